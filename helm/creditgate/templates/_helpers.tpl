{{/* Chart name, truncated to the 63 characters of a label value. */}}
{{- define "creditgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: release-chart unless the release name already holds the chart name. */}}
{{- define "creditgate.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "creditgate.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "creditgate.labels" -}}
helm.sh/chart: {{ include "creditgate.chart" . }}
{{ include "creditgate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: creditgate
{{- end }}

{{- define "creditgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "creditgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The store-init Job's labels: without app.kubernetes.io/name, so neither the
Services nor the PodDisruptionBudget nor the spread constraints select its pod. */}}
{{- define "creditgate.storeInitLabels" -}}
helm.sh/chart: {{ include "creditgate.chart" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: store-init
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: creditgate
{{- end }}

{{- define "creditgate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "creditgate.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "creditgate.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/* Redis: the Secret and key holding CREDITGATE_REDIS_URL or CREDITGATE_REDIS_CLUSTER. */}}
{{- define "creditgate.redisSecretName" -}}
{{- .Values.store.redis.existingSecret | default (printf "%s-redis" (include "creditgate.fullname" .)) }}
{{- end }}

{{- define "creditgate.redisSecretKey" -}}
{{- if .Values.store.redis.existingSecret }}
{{- .Values.store.redis.existingSecretKey }}
{{- else if eq .Values.store.mode "cluster" }}
{{- "redis-cluster" }}
{{- else }}
{{- "redis-url" }}
{{- end }}
{{- end }}

{{/* Auth: "" when no tokens file is mounted, else the Secret holding tokens.toml. */}}
{{- define "creditgate.tokensSecretName" -}}
{{- if .Values.auth.existingSecret }}
{{- .Values.auth.existingSecret }}
{{- else if or .Values.auth.tokens (not .Values.auth.allowUnauthenticated) }}
{{- printf "%s-tokens" (include "creditgate.fullname" .) }}
{{- end }}
{{- end }}

{{- define "creditgate.terminationGracePeriodSeconds" -}}
{{- $drain := add .Values.server.shutdownDelaySeconds .Values.server.shutdownGraceSeconds }}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds }}
{{- add $drain 10 }}
{{- else }}
{{- int .Values.terminationGracePeriodSeconds }}
{{- end }}
{{- end }}

{{/* The port the kubelet's gRPC probes reach: plaintext health port under TLS. */}}
{{- define "creditgate.probePort" -}}
{{- if .Values.tls.enabled }}{{ .Values.tls.healthPort }}{{ else }}50051{{ end }}
{{- end }}

{{/* Refuses values combinations that cannot work, with the reason. */}}
{{- define "creditgate.validate" -}}
{{- $mode := .Values.store.mode }}
{{- if eq $mode "embedded" }}
{{- if gt (int .Values.replicaCount) 1 }}
{{- fail (printf "replicaCount %d needs a shared store: the embedded store lives inside one pod, so store.mode embedded runs exactly 1 replica; set store.mode redis or cluster" (int .Values.replicaCount)) }}
{{- end }}
{{- if .Values.autoscaling.enabled }}
{{- fail "autoscaling.enabled needs a shared store: the embedded store lives inside one pod, so store.mode embedded runs exactly 1 replica; set store.mode redis or cluster" }}
{{- end }}
{{- if .Values.store.init.enabled }}
{{- fail "store.init.enabled runs `creditgate store-init` against Redis: set store.mode redis or cluster" }}
{{- end }}
{{- else if not .Values.store.redis.existingSecret }}
{{- if and (eq $mode "redis") (not .Values.store.redis.url) }}
{{- fail "store.mode redis needs store.redis.url or store.redis.existingSecret" }}
{{- end }}
{{- if and (eq $mode "cluster") (not .Values.store.redis.clusterNodes) }}
{{- fail "store.mode cluster needs store.redis.clusterNodes or store.redis.existingSecret" }}
{{- end }}
{{- end }}
{{- if and .Values.tls.enabled (not .Values.tls.existingSecret) }}
{{- fail "tls.enabled needs tls.existingSecret: a kubernetes.io/tls Secret with tls.crt and tls.key (and ca.crt for tls.clientAuth)" }}
{{- end }}
{{- if and .Values.tls.clientAuth (not .Values.tls.enabled) }}
{{- fail "tls.clientAuth needs tls.enabled" }}
{{- end }}
{{- if and .Values.tls.enabled (eq (int .Values.tls.healthPort) 50051) }}
{{- fail "tls.healthPort must differ from the gRPC port 50051" }}
{{- end }}
{{- if and .Values.metrics.enabled (has (int .Values.metrics.port) (list 50051 (int .Values.tls.healthPort))) }}
{{- fail "metrics.port must differ from the gRPC port 50051 and tls.healthPort" }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled (not .Values.metrics.enabled) }}
{{- fail "metrics.serviceMonitor.enabled needs metrics.enabled" }}
{{- end }}
{{- $drain := add .Values.server.shutdownDelaySeconds .Values.server.shutdownGraceSeconds }}
{{- if not (kindIs "invalid" .Values.terminationGracePeriodSeconds) }}
{{- if le (int .Values.terminationGracePeriodSeconds) (int $drain) }}
{{- fail (printf "terminationGracePeriodSeconds %d must be larger than server.shutdownDelaySeconds + server.shutdownGraceSeconds (%d), or the kubelet kills pods in the middle of their drain" (int .Values.terminationGracePeriodSeconds) (int $drain)) }}
{{- end }}
{{- end }}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- fail "autoscaling.minReplicas must not exceed autoscaling.maxReplicas" }}
{{- end }}
{{- end }}

{{/* Redis env of the server and the store-init Job; the URL only ever from a Secret. */}}
{{- define "creditgate.redisEnv" -}}
{{- if ne .Values.store.mode "embedded" }}
- name: {{ if eq .Values.store.mode "cluster" }}CREDITGATE_REDIS_CLUSTER{{ else }}CREDITGATE_REDIS_URL{{ end }}
  valueFrom:
    secretKeyRef:
      name: {{ include "creditgate.redisSecretName" . }}
      key: {{ include "creditgate.redisSecretKey" . }}
- name: CREDITGATE_REDIS_NAMESPACE
  value: {{ .Values.store.redis.namespace | quote }}
- name: CREDITGATE_REDIS_TIMEOUT
  value: {{ .Values.store.redis.timeout | quote }}
{{- if .Values.store.redis.caSecret }}
- name: CREDITGATE_REDIS_CA_FILE
  value: /etc/creditgate/redis-ca/ca.crt
{{- end }}
{{- end }}
{{- end }}

{{- define "creditgate.redisCaVolumeMount" -}}
{{- if and (ne .Values.store.mode "embedded") .Values.store.redis.caSecret }}
- name: redis-ca
  mountPath: /etc/creditgate/redis-ca
  readOnly: true
{{- end }}
{{- end }}

{{- define "creditgate.redisCaVolume" -}}
{{- if and (ne .Values.store.mode "embedded") .Values.store.redis.caSecret }}
- name: redis-ca
  secret:
    secretName: {{ .Values.store.redis.caSecret }}
    items:
      - key: ca.crt
        path: ca.crt
{{- end }}
{{- end }}
