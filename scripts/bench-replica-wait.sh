#!/usr/bin/env bash
# The cost of --redis-wait-replicas (BENCHMARKS.md, "Waiting for replicas"):
# closed-loop checks with 0 and 1 replicas to wait for, on one redis-server
# master with one replica, in ABBA order so that drift on a shared machine does
# not pass for a difference. Needs the release binaries:
#   cargo build --release --features bench --bin creditgate --bin creditgate-loadgen
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release}
OUT=bench-out/replica-wait
DURATION=${BENCH_DURATION:-8}
rm -rf "$OUT" && mkdir -p "$OUT/master" "$OUT/replica"
PIDS=()
# Stops only what this script started.
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# exec: a background `pin …&` is then the process itself, so that $! is its pid
# and the cleanup stops it (not just the subshell around it).
pin() { if command -v taskset >/dev/null && (($(nproc) >= 2)); then exec taskset -c "$@"; else shift; exec "$@"; fi; }

MASTER=$(free_port)
REPLICA=$(free_port)
redis() { pin 0 redis-server --bind 127.0.0.1 --save "" --appendonly no --loglevel warning "$@" >/dev/null 2>&1; }  # run with &
redis --port "$MASTER" --dir "$OUT/master" &
PIDS+=($!)
redis --port "$REPLICA" --dir "$OUT/replica" --replicaof 127.0.0.1 "$MASTER" &
PIDS+=($!)
until redis-cli -p "$REPLICA" INFO replication 2>/dev/null | grep -q master_link_status:up; do sleep 0.1; done
"$BIN/creditgate" store-init --redis-url "redis://127.0.0.1:$MASTER" >/dev/null

# run NAME WAIT_REPLICAS loadgen-args…: one creditgate, one measured run.
run() {
    local name=$1 wait=$2 port pid
    shift 2
    port=$(free_port)
    pin 0 "$BIN/creditgate" --listen "127.0.0.1:$port" --log warn --redis-url "redis://127.0.0.1:$MASTER" \
        --redis-wait-replicas "$wait" >"$OUT/creditgate-$name.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do sleep 0.1; done
    (pin 1 "$BIN/creditgate-loadgen" --target "http://127.0.0.1:$port" --seed-buyers \
        --duration "$DURATION" --warmup 2 --json "$@") >"$OUT/$name.json" 2>"$OUT/$name.log"
    echo "$name: $(cat "$OUT/$name.json")"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
}

for mode in saturated single; do
    args=(--connections 16 --streams 16)
    [[ $mode == single ]] && args=(--one-at-a-time)
    run "$mode-off-1" 0 "${args[@]}"
    run "$mode-on-1" 1 "${args[@]}"
    run "$mode-on-2" 1 "${args[@]}"
    run "$mode-off-2" 0 "${args[@]}"
done
redis-cli -p "$MASTER" INFO commandstats | grep -E 'cmdstat_(wait|evalsha):'
