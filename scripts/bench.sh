#!/usr/bin/env bash
# Load benchmarks of creditgate (see BENCHMARKS.md). Builds release binaries,
# starts its own servers on free loopback ports, pins servers and load generator
# to different cores where the machine has them, and prints the figures.
#
#   scripts/bench.sh            everything, then the ratio table
#   scripts/bench.sh ratios     no-op vs embedded vs redis: saturation, one call at a
#                               time, open loop at half the maximum, replay path, ScoreBuyer
#   scripts/bench.sh flat       only the open-items cost (1 vs 10,000 open invoices)
#   scripts/bench.sh memory     RSS after 1M buyers (embedded), Redis bytes per buyer,
#                               one buyer under 100,000 order cycles (retention)
#
# BENCH_DURATION (10) and BENCH_WARMUP (2) set the seconds of each run;
# REDIS_CPU (0) the core of redis-server: 0 shares creditgate's core, so the
# service side as a whole gets one core, as the no-op does.
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
if ! command -v h2load >/dev/null; then
    echo "installing nghttp2-client (h2load)" >&2
    sudo_cmd=()
    [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get install -y -qq nghttp2-client >&2 || { "${sudo_cmd[@]}" apt-get update -qq && "${sudo_cmd[@]}" apt-get install -y -qq nghttp2-client >&2; }
fi
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

REDIS_CPU=${REDIS_CPU:-0}

# start_redis → sets REDIS_PORT, REDIS_PID
start_redis() {
    REDIS_PORT=$(free_port)
    local dir
    dir=$(mktemp -d)
    local pin=()
    ((${#SERVER_CPU[@]})) && pin=(taskset -c "$REDIS_CPU")
    "${pin[@]}" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
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

# start_target NAME → CG_PORT, CG_PID (and REDIS_PID for redis), seeded buyers
start_target() {
    case $1 in
        noop)
            CG_PORT=$(free_port)
            "${SERVER_CPU[@]}" "$BIN/creditgate-noop" --listen "127.0.0.1:$CG_PORT" >/dev/null 2>&1 &
            CG_PID=$!
            PIDS+=("$CG_PID")
            wait_port "$CG_PORT"
            ;;
        embedded)
            start_creditgate
            seed
            ;;
        redis)
            start_redis
            "$BIN/creditgate" store-init --redis-url "redis://127.0.0.1:$REDIS_PORT" >/dev/null
            start_creditgate --redis-url "redis://127.0.0.1:$REDIS_PORT"
            seed
            ;;
    esac
}

stop_target() {
    stop "$CG_PID"
    if [[ $1 == redis ]]; then stop "$REDIS_PID"; fi
}

seed() {
    "${LOAD_CPU[@]}" "$BIN/creditgate-loadgen" --target "http://127.0.0.1:$CG_PORT" --seed-buyers \
        --buyers 100 --duration 1 --warmup 0 --one-at-a-time >/dev/null 2>&1
}

# A gRPC frame (no compression, 4-byte length) of CheckCreditLimitRequest for h2load.
grpc_body() {
    python3 - "$1" <<'PY'
import struct, sys
def field(number, payload):
    key = bytes([(number << 3) | 2])
    n, out = len(payload), b""
    while True:
        b = n & 0x7F
        n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            break
    return key + out + payload
money = field(1, b"EUR") + field(2, b"1.00")
message = field(1, b"LG-B-0") + field(2, b"H2LOAD-REPLAY") + field(3, money)
open(sys.argv[1], "wb").write(b"\x00" + struct.pack(">I", len(message)) + message)
PY
}

METHOD=/creditgate.v1.CreditDecisionService/CheckCreditLimit

# The fixed-body replay path with h2load. h2load counts HTTP 200 as success, so
# one call is made with nghttp first and its grpc-status trailer must be 0.
replay() {
    local name=$1 body=$OUT/replay.bin
    grpc_body "$body"
    local status
    status=$(nghttp -v -d "$body" -H ':method: POST' -H 'content-type: application/grpc' -H 'te: trailers' \
        "http://127.0.0.1:$CG_PORT$METHOD" 2>&1 | grep -ao 'grpc-status: [0-9]*' | head -1)
    if [[ $status != "grpc-status: 0" ]]; then
        echo "replay check failed on $name: ${status:-no grpc-status}" >&2
        return 1
    fi
    "${LOAD_CPU[@]}" h2load -D "$DURATION" --warm-up-time "$WARMUP" -c 16 -m 16 -t 1 -d "$body" \
        -H 'content-type: application/grpc' -H 'te: trailers' "http://127.0.0.1:$CG_PORT$METHOD" \
        >"$OUT/replay-$name.txt" 2>&1
    grep -o 'finished in [^,]*, [0-9.]* req/s' "$OUT/replay-$name.txt" | awk '{print $(NF-1)}' >"$OUT/replay-$name.rps"
    echo "replay-$name: $(cat "$OUT/replay-$name.rps") req/s" >&2
}

ratios() {
    for target in noop embedded redis; do
        start_target "$target"
        loadgen "sat-$target" --connections 16 --streams 16
        loadgen "single-$target" --one-at-a-time
        local half
        # Half of this server's maximum, but no more than the load generator itself
        # can schedule on one core without lagging (OPEN_RATE_CAP, 10000/s here).
        half=$(python3 -c "import json; print(min(int(json.load(open('$OUT/sat-$target.json'))['rps'] / 2), ${OPEN_RATE_CAP:-10000}))")
        loadgen "open-$target" --rate "$half" --connections 16
        replay "$target"
        if [[ $target != redis ]]; then
            loadgen "score-$target" --rpc score --connections 16 --streams 16
        fi
        stop_target "$target"
    done
    python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
j = lambda name: json.load(open(f"{out}/{name}.json"))
rps = lambda name: float(open(f"{out}/{name}.rps").read() or 0)
noop_sat, noop_single = j("sat-noop"), j("single-noop")
print()
print("| figure | no-op | embedded | redis | embedded / no-op | redis / no-op | target |")
print("|---|---|---|---|---|---|---|")
def row(label, key, fmt, targets, name, better="higher"):
    vals = {t: j(f"{name}-{t}")[key] for t in ("noop", "embedded", "redis")}
    e, r = vals["embedded"] / vals["noop"], vals["redis"] / vals["noop"]
    print(f"| {label} | {fmt(vals['noop'])} | {fmt(vals['embedded'])} | {fmt(vals['redis'])} | {e:.2f} | {r:.2f} | {targets} |")
row("req/s at saturation (16 conn x 16 streams, distinct orders)", "rps", lambda v: f"{v:.0f}", "≥ 0.70 / ≥ 0.40", "sat")
row("p50 µs, one call at a time", "p50_us", lambda v: f"{v}", "≤ 1.3 / ≤ 1.8", "single")
row("p99 µs, open loop at min(half of each one's max, OPEN_RATE_CAP)", "p99_us", lambda v: f"{v}", "≤ 1000 µs each", "open")
vals = {t: rps(f"replay-{t}") for t in ("noop", "embedded", "redis")}
print(f"| req/s, replay path (h2load, fixed body) | {vals['noop']:.0f} | {vals['embedded']:.0f} | {vals['redis']:.0f} | {vals['embedded']/vals['noop']:.2f} | {vals['redis']/vals['noop']:.2f} | (reported) |")
s_noop, s_emb = j("score-noop")["rps"], j("score-embedded")["rps"]
print(f"| ScoreBuyer req/s (16 x 16) | {s_noop:.0f} | {s_emb:.0f} | – | {s_emb/s_noop:.2f} | – | (reported) |")
for t in ("noop", "embedded", "redis"):
    o = j(f"open-{t}")
    print(f"| open loop {t}: rate {o['rate']}/s, ok {o['ok']}, errors {o['errors']}, p50 {o['p50_us']} µs, p99.9 {o['p999_us']} µs, generator lag max {o['max_send_lag_us']} µs | | | | | | |")
PY
}

memory() {
    "$BIN/creditgate-memory" embedded --buyers 1000000
    start_redis
    "$BIN/creditgate-memory" redis --redis-url "redis://127.0.0.1:$REDIS_PORT"
    # One buyer under a steady flow of complete orders: flat once the retention
    # window (400 days) has passed; the last run prunes nothing, for contrast.
    local url="redis://127.0.0.1:$REDIS_PORT"
    "$BIN/creditgate-memory" cycles --redis-url "$url" --per-day 10 --report 10000,25000,50000,75000,100000
    "$BIN/creditgate-memory" cycles --redis-url "$url" --per-day 100 --report 10000,40000,50000,100000
    "$BIN/creditgate-memory" cycles --redis-url "$url" --per-day 10 --retention-days 36500
    stop "$REDIS_PID"
    "$BIN/creditgate-memory" cycles --per-day 10 --report 10000,25000,50000,75000,100000
    "$BIN/creditgate-memory" cycles --per-day 100 --report 10000,40000,50000,100000
    "$BIN/creditgate-memory" cycles --per-day 10 --retention-days 36500
}

case $SECTION in
    ratios) ratios ;;
    flat) flat_cost ;;
    memory) memory ;;
    all)
        flat_cost
        memory
        ratios
        ;;
    *) echo "unknown section $SECTION (ratios, flat, memory, all)" >&2; exit 2 ;;
esac
