#!/usr/bin/env bash
# A/B of the server stack alone: two no-op servers (e.g. an older commit's build
# and this one), alternating, 3 s per figure, server on core 0, load on core 1.
#   OLD=/path/to/old/release/creditgate-noop scripts/ab-noop.sh [rounds]
# Prints: round build figure req/s p50_us p99_us. Talks to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${OLD:?set OLD to the other build's creditgate-noop}"
NEW=${NEW:-target/release/creditgate-noop}
LOADGEN=${LOADGEN:-target/release/creditgate-loadgen}
for round in $(seq 1 "${1:-3}"); do
    for build in old new; do
        bin=$OLD
        [[ $build == new ]] && bin=$NEW
        port=$((56100 + RANDOM % 500))
        taskset -c 0 "$bin" --listen "127.0.0.1:$port" >/dev/null 2>&1 &
        pid=$!
        sleep 0.5
        for figure in sat single; do
            args=(--connections 16 --streams 16)
            [[ $figure == single ]] && args=(--one-at-a-time)
            json=$(taskset -c 1 "$LOADGEN" --target "http://127.0.0.1:$port" --duration 3 \
                --warmup 1 --json "${args[@]}" 2>/dev/null)
            echo "$round $build $figure $(python3 -c 'import json,sys; d=json.load(sys.stdin); print(round(d["rps"]), d["p50_us"], d["p99_us"])' <<<"$json")"
        done
        kill "$pid"
        wait "$pid" 2>/dev/null || true
    done
done
