#!/usr/bin/env bash
# Load benchmarks of creditgate (see BENCHMARKS.md). Builds release binaries,
# starts its own servers on free loopback ports, pins servers and load generator
# to different cores where the machine has them, and prints the figures.
#
#   scripts/bench.sh            everything, then the ratio table
#   scripts/bench.sh quick      the regression guard (under two minutes once built):
#                               saturation and one call at a time, both stores vs the no-op
#   scripts/bench.sh ratios     no-op vs embedded vs redis: saturation, one call at a
#                               time, replay path, ScoreBuyer
#   scripts/bench.sh tail       open loop at 25% and 50% of each store's maximum, each
#                               run next to the no-op at the same rate; 60 s at 50%
#   scripts/bench.sh capacity   CPU per decision (creditgate, redis-server), and 1, 2, 4, 8
#                               creditgate processes against one redis-server / a cluster
#   scripts/bench.sh flat       only the open-items cost (1 vs 10,000 open invoices)
#   scripts/bench.sh memory     RSS after 1M buyers (embedded), Redis bytes per buyer,
#                               one buyer under 100,000 order cycles (retention)
#   scripts/bench.sh telemetry  the cost of metrics (--metrics-listen, scraped every second)
#                               and of the per-decision info log line: off / metrics / logs /
#                               both, alternated, TELEMETRY_REPS (3) rounds per store
#   scripts/bench.sh archive    the decision archive (--archive-url, a private PostgreSQL on
#                               the load core): saturation with and without it, both stores,
#                               alternated ARCHIVE_REPS (3) rounds; then the shipper's rate
#                               draining a backlog left by a PostgreSQL outage, and the
#                               archive's bytes per decision
#   scripts/bench.sh import     rows/s of `creditgate import`: straight into an empty
#                               redis-server (a re-seed), the same files again (every row a
#                               replay), and through a server on the embedded store;
#                               IMPORT_BUYERS (20000) buyers with 5 invoices and 1 payment each
#
# BENCH_DURATION (10) and BENCH_WARMUP (2) set the seconds of each run (quick uses 3
# and 1, the 60 s tail run its own); TAIL_REPS (3) the runs per tail figure, TAIL_STORES
# ("embedded redis") which stores the tail section measures;
# CG_BIN the creditgate binary to measure (default: this build), for a before/after;
# NOOP_BIN likewise for the no-op (a before/after of the transport itself);
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
# The creditgate binary under test; another build (an older commit's) for an A/B.
CG_BIN=${CG_BIN:-$BIN/creditgate}
NOOP_BIN=${NOOP_BIN:-$BIN/creditgate-noop}

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
    [[ -n ${PG_DIR:-} ]] && pg_stop
    wait 2>/dev/null || true
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# A free port whose cluster bus port (+10000) is valid too, both free.
cluster_free_port() {
    python3 -c '
import random, socket
while True:
    port = random.randint(20000, 55000)
    try:
        for p in (port, port + 10000):
            s = socket.socket(); s.bind(("127.0.0.1", p)); s.close()
        print(port); break
    except OSError:
        pass'
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
    start_redis_on "$REDIS_CPU"
}

# start_redis_on CORE → sets REDIS_PORT, REDIS_PID
start_redis_on() {
    REDIS_PORT=$(free_port)
    local dir
    dir=$(mktemp -d)
    local pin=()
    ((${#SERVER_CPU[@]})) && pin=(taskset -c "$1")
    "${pin[@]}" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
        --dir "$dir" --daemonize no --loglevel warning >/dev/null &
    REDIS_PID=$!
    PIDS+=("$REDIS_PID")
    wait_port "$REDIS_PORT"
}

# The log filter of the servers under test (warn: no per-decision line; the
# telemetry section measures that line's cost), and extra flags for all of them.
CG_LOG=warn
CG_EXTRA=()
# Where the servers' logs go: a file in $OUT, or a pipe drained by `cat`.
CG_STDOUT=file

# start_creditgate [args…] → sets CG_PORT, CG_PID
start_creditgate() {
    CG_PORT=$(free_port)
    if [[ $CG_STDOUT == pipe ]]; then
        "${SERVER_CPU[@]}" "$CG_BIN" --listen "127.0.0.1:$CG_PORT" --log "$CG_LOG" "$@" "${CG_EXTRA[@]}" \
            > >(cat >/dev/null) 2>&1 &
    else
        "${SERVER_CPU[@]}" "$CG_BIN" --listen "127.0.0.1:$CG_PORT" --log "$CG_LOG" "$@" "${CG_EXTRA[@]}" \
            >"$OUT/creditgate-$CG_PORT.log" 2>&1 &
    fi
    CG_PID=$!
    PIDS+=("$CG_PID")
    wait_port "$CG_PORT"
}

# Stops processes this script started, and forgets them: the exit trap must not
# signal a pid the system may have given to someone else since.
stop() {
    kill "$@" 2>/dev/null || true
    wait "$@" 2>/dev/null || true
    local pid gone kept=()
    for pid in "${PIDS[@]}"; do
        for gone in "$@"; do [[ $pid == "$gone" ]] && continue 2; done
        kept+=("$pid")
    done
    PIDS=("${kept[@]}")
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
                "$CG_BIN" store-init --redis-url "redis://127.0.0.1:$REDIS_PORT" >/dev/null
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
            "${SERVER_CPU[@]}" "$NOOP_BIN" --listen "127.0.0.1:$CG_PORT" >/dev/null 2>&1 &
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
            "$CG_BIN" store-init --redis-url "redis://127.0.0.1:$REDIS_PORT" >/dev/null
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
        replay "$target"
        if [[ $target != redis ]]; then
            loadgen "score-$target" --rpc score --connections 16 --streams 16
        fi
        stop_target "$target"
    done
    python3 scripts/bench_tables.py ratios "$OUT"
}

# The regression guard: saturation and one call at a time, short runs.
quick() {
    local DURATION=3 WARMUP=1
    for target in noop embedded redis; do
        start_target "$target"
        loadgen "sat-$target" --connections 16 --streams 16
        loadgen "single-$target" --one-at-a-time
        stop_target "$target"
    done
    python3 scripts/bench_tables.py quick "$OUT"
}

# The cost of telemetry at saturation: metrics off/on (scraped every second, far
# more often than Prometheus does) and the per-decision info line off/on. The
# server's stdout is a pipe drained by another process, as a container runtime
# takes it: written to a file, the page cache's writeback of one run's ~50 MB of
# lines ran during the next run and was charged to it. The four modes run in
# turn, each round starting one mode later, so drift hits all alike.
telemetry() {
    local DURATION=${BENCH_DURATION:-5} WARMUP=1 reps=${TELEMETRY_REPS:-3}
    for store in embedded redis; do
        local order=(off metrics logs both)
        for rep in $(seq "$reps"); do
            local shift=$(((rep - 1) % 4))
            for mode in "${order[@]:shift}" "${order[@]:0:shift}"; do
                CG_LOG=warn
                CG_EXTRA=()
                local mport="" scraper=""
                if [[ $mode == metrics || $mode == both ]]; then
                    mport=$(free_port)
                    CG_EXTRA=(--metrics-listen "127.0.0.1:$mport")
                fi
                if [[ $mode == logs || $mode == both ]]; then CG_LOG=info; fi
                CG_STDOUT=pipe
                start_target "$store"
                if [[ -n $mport ]]; then
                    (while sleep 1; do curl -s "http://127.0.0.1:$mport/metrics" >/dev/null || true; done) &
                    scraper=$!
                fi
                loadgen "telemetry-$store-$mode-$rep" --connections 16 --streams 16
                if [[ -n $mport ]]; then
                    curl -s "http://127.0.0.1:$mport/metrics" >"$OUT/telemetry-$store-$mode-$rep.prom"
                    kill "$scraper" 2>/dev/null || true
                    wait "$scraper" 2>/dev/null || true
                fi
                stop_target "$store"
            done
        done
    done
    CG_LOG=warn
    CG_EXTRA=()
    CG_STDOUT=file
    python3 scripts/bench_tables.py telemetry "$OUT" "$reps"
}

# Open loop at 25% and 50% of each store's own closed-loop maximum, distinct
# orders, 64 buyers. Every figure is TAIL_REPS runs, each on a fresh server and
# each next to a run of the no-op at the same rate, so that the machine's drift
# hits both alike. Then 60 s at 50%, in 10 s slices, to show no decay.
tail_runs() {
    local reps=${TAIL_REPS:-3}
    for store in ${TAIL_STORES:-embedded redis}; do
        start_target "$store"
        loadgen "tailmax-$store" --connections 8 --streams 16 --buyers 64
        stop_target "$store"
        local max
        max=$(field "tailmax-$store" rps)
        for pct in 25 50; do
            local rate
            rate=$(python3 -c "print(int($max * $pct / 100))")
            for rep in $(seq "$reps"); do
                for target in noop "$store"; do
                    start_target "$target"
                    loadgen "tail-$store-$pct-$target-$rep" --rate "$rate" --connections 8 --buyers 64
                    stop_target "$target"
                done
            done
        done
        start_target "$store"
        DURATION=60 loadgen "long-$store" --rate "$(python3 -c "print(int($max / 2))")" --connections 8 \
            --buyers 64 --slice-seconds 10
        stop_target "$store"
    done
    python3 scripts/bench_tables.py tail "$OUT" "$reps" "${TAIL_STORES:-embedded redis}"
}

# CPU time of a process so far, in clock ticks (user + system).
cpu_ticks() {
    awk '{print $14 + $15}' "/proc/$1/stat"
}

# start_cluster → CLUSTER_URLS (comma-separated), CLUSTER_PIDS; three masters on REDIS_CPU
start_cluster() {
    local ports=() dir
    CLUSTER_PIDS=()
    for _ in 1 2 3; do
        local port
        port=$(cluster_free_port)
        dir=$(mktemp -d)
        taskset -c "$REDIS_CPU" redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
            --cluster-enabled yes --cluster-config-file "$dir/nodes.conf" --dir "$dir" \
            --daemonize no --loglevel warning >/dev/null &
        CLUSTER_PIDS+=($!)
        PIDS+=($!)
        ports+=("$port")
        wait_port "$port"
    done
    redis-cli --cluster create "${ports[@]/#/127.0.0.1:}" --cluster-replicas 0 --cluster-yes >/dev/null
    # Every node must see the whole slot map before a client is told the cluster is up.
    local port ready
    for _ in $(seq 100); do
        ready=1
        for port in "${ports[@]}"; do
            redis-cli -p "$port" cluster info | tr -d '\r' | grep -q '^cluster_state:ok$' || ready=0
        done
        ((ready)) && break
        sleep 0.1
    done
    sleep 1
    CLUSTER_URLS=$(printf 'redis://127.0.0.1:%s,' "${ports[@]}")
    CLUSTER_URLS=${CLUSTER_URLS%,}
}

# Capacity: what one decision costs each process, and N creditgate replicas
# against one redis-server and against a 3-master cluster. Redis gets core 0 to
# itself; the replicas and their load generators share the other core, so the
# table shows Redis's CPU per decision and how far one Redis core carries.
capacity() {
    local n_list=${CAPACITY_N:-1 2 4 8}
    # No figure of an earlier run may pass for this one's.
    rm -f "$OUT"/cap-*
    # Per core: each store alone on core 0 at saturation.
    for store in ${CAPACITY_CORE-embedded redis}; do
        start_target "$store"
        local before redis_before
        before=$(cpu_ticks "$CG_PID")
        [[ $store == redis ]] && redis_before=$(cpu_ticks "$REDIS_PID")
        loadgen "cap-core-$store" --connections 16 --streams 16
        echo "$(( $(cpu_ticks "$CG_PID") - before ))" >"$OUT/cap-core-$store.cg_ticks"
        [[ $store == redis ]] && echo "$(( $(cpu_ticks "$REDIS_PID") - redis_before ))" >"$OUT/cap-core-$store.redis_ticks"
        stop_target "$store"
    done
    for kind in ${CAPACITY_KINDS:-redis cluster}; do
        for n in $n_list; do
            local urls args=() pids=() ports=() redis_pids=()
            if [[ $kind == redis ]]; then
                start_redis_on "$REDIS_CPU"
                "$CG_BIN" store-init --redis-url "redis://127.0.0.1:$REDIS_PORT" >/dev/null
                args=(--redis-url "redis://127.0.0.1:$REDIS_PORT")
                redis_pids=("$REDIS_PID")
            else
                start_cluster
                "$CG_BIN" store-init --redis-cluster "$CLUSTER_URLS" >/dev/null
                args=(--redis-cluster "$CLUSTER_URLS")
                redis_pids=("${CLUSTER_PIDS[@]}")
            fi
            for i in $(seq "$n"); do
                local port
                port=$(free_port)
                "${LOAD_CPU[@]}" "$CG_BIN" --listen "127.0.0.1:$port" --log warn "${args[@]}" \
                    >"$OUT/cap-$kind-$n-$i.log" 2>&1 &
                pids+=($!)
                PIDS+=($!)
                ports+=("$port")
                wait_port "$port"
            done
            CG_PORT=${ports[0]} seed
            local redis_before=0
            for pid in "${redis_pids[@]}"; do redis_before=$((redis_before + $(cpu_ticks "$pid"))); done
            local lg_pids=()
            for i in $(seq "$n"); do
                "${LOAD_CPU[@]}" "$BIN/creditgate-loadgen" --target "http://127.0.0.1:${ports[$((i - 1))]}" \
                    --duration "$DURATION" --warmup "$WARMUP" --json --connections 4 --streams 16 \
                    >"$OUT/cap-$kind-$n-$i.json" 2>"$OUT/cap-$kind-$n-$i.log" &
                lg_pids+=($!)
            done
            local lg_pid
            for lg_pid in "${lg_pids[@]}"; do
                wait "$lg_pid" || { echo "a load generator failed: $OUT/cap-$kind-$n-*.log" >&2; exit 1; }
            done
            local redis_after=0
            for pid in "${redis_pids[@]}"; do redis_after=$((redis_after + $(cpu_ticks "$pid"))); done
            echo "$((redis_after - redis_before))" >"$OUT/cap-$kind-$n.redis_ticks"
            stop "${pids[@]}"
            stop "${redis_pids[@]}"
        done
    done
    python3 scripts/bench_tables.py capacity "$OUT" "$(getconf CLK_TCK)" "$DURATION" "$WARMUP" $n_list
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

# Import throughput. The files are `creditgate demo-data`'s book (deterministic
# for a seed, dated from today); redis-server (or the server) on REDIS_CPU / the server core, the import
# on the other core. CPU steal over each run is printed next to it: a figure
# taken while the host took the cores away is not comparable.
steal_ticks() { awk '/^cpu /{print $9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }

import_run() {
    local name=$1 s0 s1 t0 t1
    shift
    read -r s0 t0 < <(steal_ticks)
    "${LOAD_CPU[@]}" "$CG_BIN" import "$@" >"$OUT/import-$name.txt" 2>"$OUT/import-$name.log" ||
        { echo "import $name failed: $OUT/import-$name.txt, $OUT/import-$name.log" >&2; exit 1; }
    read -r s1 t1 < <(steal_ticks)
    printf '%-18s %s (steal %s%%)\n' "$name" "$(head -1 "$OUT/import-$name.txt" | sed 's/^import into .*: \([0-9]* rows\)/\1/')" \
        "$(python3 -c "print(round(100 * ($s1 - $s0) / max(1, $t1 - $t0), 1))")"
}

import_rows() {
    local buyers=${IMPORT_BUYERS:-20000} dir="$OUT/import"
    rm -rf "$dir" "$OUT"/import-*
    mkdir -p "$dir"
    # The demo book (tiers, sizes, insurance, invoices across every aging bucket,
    # part-paid ones with and without payments rows), seeded: the same rows every run.
    "$BIN/creditgate" demo-data --buyers "$buyers" --seed 1 --out "$dir" >/dev/null
    local files=("$dir/buyers.csv" "$dir/invoices.csv" "$dir/payments.csv")
    echo "import: $(($(cat "${files[@]}" | wc -l) - 3)) rows ($buyers buyers), $CORES cores"
    # Runs of one configuration vary by up to 2x on this machine without visible
    # steal: IMPORT_REPS (3) rounds, each on a new redis-server / server.
    local rep url
    for rep in $(seq "${IMPORT_REPS:-3}"); do
        start_redis_on "$REDIS_CPU"
        url="redis://127.0.0.1:$REDIS_PORT"
        import_run "redis-empty-$rep" --redis-url "$url" "${files[@]}"
        import_run "redis-replay-$rep" --redis-url "$url" --complete "${files[@]}"
        stop "$REDIS_PID"
        start_creditgate
        import_run "server-$rep" --server "http://127.0.0.1:$CG_PORT" "${files[@]}"
        stop "$CG_PID"
    done
}

# A private PostgreSQL (never the machine's own on 5432): initdb in a temp dir,
# as the postgres user when root (initdb refuses root), production settings
# (fsync on), on the load core. → PG_PORT, PG_DIR
PG_DIR=
AS_PG=()
start_postgres() {
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [[ -n $PG_BIN ]] || { echo "PostgreSQL missing: run scripts/test.sh once (it installs it)" >&2; exit 1; }
    PG_DIR=$(mktemp -d)
    chmod 755 "$PG_DIR"
    if [[ $(id -u) -eq 0 ]]; then
        chown postgres: "$PG_DIR"
        AS_PG=(runuser -u postgres --)
    fi
    "${AS_PG[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U postgres -E UTF8 >/dev/null
    PG_PORT=$(free_port)
    pg_start
}
pg_start() {
    "${LOAD_CPU[@]}" "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
        -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1" start >/dev/null
}
pg_stop() { "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true; }
psql_q() { psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "$1" -Atc "$2"; }
# new_db → DB: a fresh database (not in a subshell: the counter must move).
PG_DBS=0
new_db() {
    PG_DBS=$((PG_DBS + 1))
    DB=bench$PG_DBS
    psql_q postgres "CREATE DATABASE $DB" >/dev/null
}
archived() { psql_q "$1" "SELECT count(*) FROM creditgate.decisions" 2>/dev/null || echo 0; }

# Waits until the archive's row count stops moving for 2 s; prints
# "rows seconds" from the first new row to the last (the shipper's drain).
drain_time() {
    local db=$1 before=$2 n last=-1 first_at= last_at= stable=0
    while ((stable < 10)); do
        n=$(archived "$db")
        if [[ -z $first_at ]] && ((n > before)); then first_at=$(date +%s.%N); fi
        if ((n != last)); then last=$n; last_at=$(date +%s.%N); stable=0; else stable=$((stable + 1)); fi
        sleep 0.2
    done
    python3 -c "print($last - $before, round($last_at - ${first_at:-$last_at}, 2))"
}

# The archive's cost at saturation, per store, three modes alternated:
#   off      no --archive-url
#   outbox   --archive-url, PostgreSQL stopped during the run: the check path
#            writes its record to the outbox and nothing is shipped (the cost
#            of the outbox write alone)
#   shipping --archive-url, PostgreSQL up: the shipper runs in the same process
#            and PostgreSQL on the load generator's core (the whole system on
#            two cores)
# with creditgate's own CPU per decision. Then the shipper's rate draining a
# backlog, and the archive's bytes per decision.
archive_bench() {
    local DURATION=${BENCH_DURATION:-5} WARMUP=0 reps=${ARCHIVE_REPS:-3} store rep mode t0 t1 n
    start_postgres
    : >"$OUT/archive-cpu.txt"
    for store in embedded redis; do
        for rep in $(seq "$reps"); do
            local order=(off outbox shipping)
            local shift=$(((rep - 1) % 3))
            for mode in "${order[@]:shift}" "${order[@]:0:shift}"; do
                CG_EXTRA=()
                if [[ $mode != off ]]; then
                    new_db
                    CG_EXTRA=(--archive-url "postgres://postgres@127.0.0.1:$PG_PORT/$DB" --outbox-max 10000000)
                fi
                start_target "$store"
                if [[ $mode != off ]]; then
                    # The shipper has migrated the schema before the run.
                    until psql_q "$DB" "SELECT 1 FROM creditgate.decisions LIMIT 1" >/dev/null 2>&1; do sleep 0.1; done
                fi
                [[ $mode == outbox ]] && pg_stop
                t0=$(cpu_ticks "$CG_PID")
                loadgen "archive-$store-$mode-$rep" --connections 16 --streams 16
                t1=$(cpu_ticks "$CG_PID")
                n=$(field "archive-$store-$mode-$rep" ok)
                echo "$store $mode $rep $n $((t1 - t0))" >>"$OUT/archive-cpu.txt"
                [[ $mode == outbox ]] && pg_start
                stop_target "$store"
            done
        done
    done
    CG_EXTRA=()
    # The shipper's own rate: a backlog made while PostgreSQL is down, drained
    # when it is back (the decisions' rate no longer limits it).
    local rows secs warm total bytes
    for store in embedded redis; do
        new_db
        CG_EXTRA=(--archive-url "postgres://postgres@127.0.0.1:$PG_PORT/$DB" --outbox-max 10000000)
        start_target "$store"
        DURATION=1 WARMUP=0 loadgen "archive-$store-warm" --connections 16 --streams 16
        read -r warm _ < <(drain_time "$DB" 0)
        pg_stop
        loadgen "archive-$store-backlog" --connections 16 --streams 16
        pg_start
        read -r rows secs < <(drain_time "$DB" "$warm")
        echo "drain-$store: $rows records in $secs s: $(python3 -c "print(round($rows / max($secs, 0.01)))") records/s" | tee "$OUT/archive-drain-$store.txt" >&2
        total=$(archived "$DB")
        bytes=$(psql_q "$DB" "SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits WHERE inhparent = 'creditgate.decisions'::regclass")
        echo "bytes-$store: $total records, $bytes bytes with indexes: $((bytes / total)) bytes/decision" | tee "$OUT/archive-bytes-$store.txt" >&2
        stop_target "$store"
        CG_EXTRA=()
    done
    python3 - "$OUT" "$(getconf CLK_TCK)" <<'PY'
import collections, json, sys
out, hz = sys.argv[1], int(sys.argv[2])
runs = collections.defaultdict(list)
for line in open(f"{out}/archive-cpu.txt"):
    store, mode, rep, n, ticks = line.split()
    rps = json.load(open(f"{out}/archive-{store}-{mode}-{rep}.json"))["rps"]
    runs[store, mode].append((rps, int(n), int(ticks)))
print("| store | mode | req/s per run | ratio to off | creditgate CPU µs per decision |")
print("|---|---|---|---|---|")
for store in ("embedded", "redis"):
    base = sum(r[0] for r in runs[store, "off"])
    for mode in ("off", "outbox", "shipping"):
        rs = runs[store, mode]
        cpu = sum(t for _, _, t in rs) / hz * 1e6 / max(1, sum(n for _, n, _ in rs))
        print(f"| {store} | {mode} | {' / '.join(f'{r[0]:.0f}' for r in rs)} | "
              f"{sum(r[0] for r in rs) / base:.2f} | {cpu:.1f} |")
PY
}

case $SECTION in
    archive) archive_bench ;;
    ratios) ratios ;;
    import) import_rows ;;
    quick) quick ;;
    telemetry) telemetry ;;
    tail) tail_runs ;;
    capacity) capacity ;;
    flat) flat_cost ;;
    memory) memory ;;
    all)
        flat_cost
        memory
        ratios
        tail_runs
        capacity
        ;;
    *) echo "unknown section $SECTION (quick, ratios, tail, capacity, flat, memory, telemetry, import, archive, all)" >&2; exit 2 ;;
esac
