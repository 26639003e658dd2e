#!/usr/bin/env bash
# Load benchmarks of creditgate (see BENCHMARKS.md). Builds release binaries,
# starts its own servers on free loopback ports, pins servers and load generator
# to different cores where the machine has them, and prints the figures.
#
#   scripts/bench.sh            everything
#   scripts/bench.sh flat       only the open-items cost (1 vs 10,000 open invoices)
#
# Every run is bounded in time and talks to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."

SECTION=${1:-all}
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
OUT=${BENCH_OUT:-bench-out}
mkdir -p "$OUT"

command -v redis-server >/dev/null || { echo "redis-server missing: run scripts/test.sh once (it installs it)" >&2; exit 1; }
cargo build --release --locked --features bench --bins >&2
BIN=target/release

CORES=$(nproc)
if ((CORES >= 2)) && command -v taskset >/dev/null; then
    SERVER_CPU=(taskset -c 0)
    LOAD_CPU=(taskset -c 1-$((CORES - 1)))
else
    SERVER_CPU=()
    LOAD_CPU=()
fi

PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_port() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nothing listening on $1" >&2
    exit 1
}

# start_redis → sets REDIS_PORT, REDIS_PID
start_redis() {
    REDIS_PORT=$(free_port)
    local dir
    dir=$(mktemp -d)
    "${SERVER_CPU[@]}" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
        --dir "$dir" --daemonize no --loglevel warning >/dev/null &
    REDIS_PID=$!
    PIDS+=("$REDIS_PID")
    wait_port "$REDIS_PORT"
}

# start_creditgate [args…] → sets CG_PORT, CG_PID
start_creditgate() {
    CG_PORT=$(free_port)
    "${SERVER_CPU[@]}" "$BIN/creditgate" --listen "127.0.0.1:$CG_PORT" --log warn "$@" >"$OUT/creditgate-$CG_PORT.log" 2>&1 &
    CG_PID=$!
    PIDS+=("$CG_PID")
    wait_port "$CG_PORT"
}

stop() {
    kill "$@" 2>/dev/null || true
    wait "$@" 2>/dev/null || true
}

# loadgen NAME [args…]: one run, JSON line kept in $OUT/NAME.json
loadgen() {
    local name=$1
    shift
    "${LOAD_CPU[@]}" "$BIN/creditgate-loadgen" --target "http://127.0.0.1:$CG_PORT" \
        --duration "$DURATION" --warmup "$WARMUP" --json "$@" >"$OUT/$name.json" 2>"$OUT/$name.log"
    echo "$name: $(cat "$OUT/$name.json")" >&2
}

field() { python3 -c "import json,sys; print(json.load(open('$OUT/$1.json'))['$2'])"; }

# Decision cost in the buyer's open items: one call at a time against a buyer
# with 1 and with 10,000 open invoices, on a fresh store each run. Runs go in
# ABBA order (1, 10000, 10000, 1) and each figure is the mean of its two runs, so
# that drift on a shared machine does not pass for a difference.
flat_cost() {
    for store in embedded redis; do
        local run=0
        for items in 1 10000 10000 1; do
            run=$((run + 1))
            local args=()
            if [[ $store == redis ]]; then
                start_redis
                "$BIN/creditgate" store-init --redis-url "redis://127.0.0.1:$REDIS_PORT" >/dev/null
                args=(--redis-url "redis://127.0.0.1:$REDIS_PORT")
            fi
            start_creditgate "${args[@]}"
            loadgen "flat-$store-$items-$run" --one-at-a-time --buyers 1 --seed-buyers --open-invoices "$items"
            stop "$CG_PID"
            if [[ $store == redis ]]; then stop "$REDIS_PID"; fi
        done
    done
    echo
    echo "| store | open invoices | req/s (runs) | p50 µs (runs) | p99 µs (runs) | p50 / p50 with 1 |"
    echo "|---|---|---|---|---|---|"
    python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
def runs(store, items):
    names = {"1": (1, 4), "10000": (2, 3)}[items]
    return [json.load(open(f"{out}/flat-{store}-{items}-{n}.json")) for n in names]
for store in ("embedded", "redis"):
    mean = lambda rs, k: sum(r[k] for r in rs) / len(rs)
    base = mean(runs(store, "1"), "p50_us")
    for items in ("1", "10000"):
        rs = runs(store, items)
        fmt = lambda k: f"{mean(rs, k):.0f} ({' / '.join(str(round(r[k])) for r in rs)})"
        print(f"| {store} | {items} | {fmt('rps')} | {fmt('p50_us')} | {fmt('p99_us')} | {mean(rs, 'p50_us') / base:.2f} |")
PY
}

case $SECTION in
    flat) flat_cost ;;
    all) flat_cost ;;
    *) echo "unknown section $SECTION (flat, all)" >&2; exit 2 ;;
esac
