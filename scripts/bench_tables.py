"""The tables scripts/bench.sh prints, from the JSON lines it kept in its output
directory. One subcommand per section: ratios, quick, tail, capacity, telemetry."""

import json
import os
import statistics
import sys


def load(out, name):
    with open(f"{out}/{name}.json") as f:
        return json.load(f)


def ratio_row(out, label, key, fmt, targets):
    vals = {t: load(out, f"{label[0]}-{t}")[key] for t in ("noop", "embedded", "redis")}
    e, r = vals["embedded"] / vals["noop"], vals["redis"] / vals["noop"]
    print(
        f"| {label[1]} | {fmt(vals['noop'])} | {fmt(vals['embedded'])} | {fmt(vals['redis'])} "
        f"| {e:.2f} | {r:.2f} | {targets} |"
    )


def header():
    print()
    print("| figure | no-op | embedded | redis | embedded / no-op | redis / no-op | target |")
    print("|---|---|---|---|---|---|---|")


def quick(out):
    header()
    ratio_row(out, ("sat", "req/s at saturation (16 conn x 16 streams, distinct orders)"),
              "rps", lambda v: f"{v:.0f}", "≥ 0.70 / ≥ 0.40")
    ratio_row(out, ("single", "p50 µs, one call at a time"), "p50_us", str, "≤ 1.3 / ≤ 1.6")


def ratios(out):
    quick(out)
    rps = lambda name: float(open(f"{out}/{name}.rps").read() or 0)
    vals = {t: rps(f"replay-{t}") for t in ("noop", "embedded", "redis")}
    print(
        f"| req/s, replay path (h2load, fixed body) | {vals['noop']:.0f} | {vals['embedded']:.0f} "
        f"| {vals['redis']:.0f} | {vals['embedded'] / vals['noop']:.2f} "
        f"| {vals['redis'] / vals['noop']:.2f} | (reported) |"
    )
    s_noop, s_emb = load(out, "score-noop")["rps"], load(out, "score-embedded")["rps"]
    print(f"| ScoreBuyer req/s (16 x 16) | {s_noop:.0f} | {s_emb:.0f} | – | {s_emb / s_noop:.2f} | – | (reported) |")


def steal(runs):
    return " / ".join(str(r.get("stolen_ms")) for r in runs)


def tail(out, reps, stores):
    print()
    print("| store | load | rate/s | no-op p99 µs (runs) | store p50 / p99 / p99.9 / max µs (median run) "
          "| store p99 µs (runs) | p99 ratio (medians of the non-void runs) | void runs | steal ms per run (no-op; store) | target |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for store in stores:
        for pct in (25, 50):
            noop = [load(out, f"tail-{store}-{pct}-noop-{n}") for n in range(1, reps + 1)]
            mine = [load(out, f"tail-{store}-{pct}-{store}-{n}") for n in range(1, reps + 1)]
            void = sum(r["void"] for r in noop + mine)
            # Void runs are not results: the medians leave them out (unless all are void).
            valid = lambda runs: [r for r in runs if not r["void"]] or runs
            noop_p99 = statistics.median(r["p99_us"] for r in valid(noop))
            mine_p99 = statistics.median(r["p99_us"] for r in valid(mine))
            mid = sorted(mine, key=lambda r: r["p99_us"])[len(mine) // 2]
            lost = sum(r["errors"] for r in mine)
            print(
                f"| {store} | {pct}% | {mine[0]['rate']} | {' / '.join(str(r['p99_us']) for r in noop)} "
                f"| {mid['p50_us']} / {mid['p99_us']} / {mid['p999_us']} / {mid['max_us']} "
                f"| {' / '.join(str(r['p99_us']) for r in mine)} | {mine_p99 / noop_p99:.2f} "
                f"| {void} of {2 * reps} | {steal(noop)}; {steal(mine)} "
                f"| ≤ 3.00{'' if lost == 0 else f' ({lost} failed calls)'} |"
            )
    print()
    print("| store | 60 s at 50%: rate/s | first 10 s req/s, p99 µs | last 10 s req/s, p99 µs | every slice's p99 µs | lag p99 µs | steal ms |")
    print("|---|---|---|---|---|---|---|")
    for store in stores:
        run = load(out, f"long-{store}")
        first, last = run["slices"][0], run["slices"][-1]
        print(
            f"| {store} | {run['rate']} | {first['rps']:.0f}, {first['p99_us']} | {last['rps']:.0f}, {last['p99_us']} "
            f"| {' / '.join(str(s['p99_us']) for s in run['slices'])} | {run['lag_p99_us']} | {run.get('stolen_ms')} |"
        )


def capacity(out, clk_tck, duration, warmup, ns):
    window = duration + warmup

    def cpu_s(name):
        return int(open(f"{out}/{name}").read()) / clk_tck

    print()
    print("| store | decisions/s (saturation, one core) | creditgate CPU µs per decision | redis-server CPU µs per decision | decisions per creditgate core-second | decisions per Redis core-second |")
    print("|---|---|---|---|---|---|")
    for store in ("embedded", "redis"):
        if not os.path.exists(f"{out}/cap-core-{store}.json"):
            continue
        run = load(out, f"cap-core-{store}")
        decisions = run["rps"] * window
        cg = cpu_s(f"cap-core-{store}.cg_ticks") * 1e6 / decisions
        if store == "redis":
            rd = cpu_s(f"cap-core-{store}.redis_ticks") * 1e6 / decisions
            rd_text, rd_rate = f"{rd:.1f}", f"{1e6 / rd:.0f}"
        else:
            rd_text, rd_rate = "–", "–"
        print(f"| {store} | {run['rps']:.0f} | {cg:.1f} | {rd_text} | {1e6 / cg:.0f} | {rd_rate} |")
    print()
    print("| store | creditgate processes | decisions/s (all) | Redis CPU, % of one core (sum over masters) | Redis CPU µs per decision | projected decisions/s at 100% of the Redis cores |")
    print("|---|---|---|---|---|---|")
    for kind, cores in (("redis", 1), ("cluster", 3)):
        if not os.path.exists(f"{out}/cap-{kind}-{ns[0]}.redis_ticks"):
            continue
        for n in ns:
            rps = sum(load(out, f"cap-{kind}-{n}-{i}")["rps"] for i in range(1, n + 1))
            busy = cpu_s(f"cap-{kind}-{n}.redis_ticks") / window
            per = busy * 1e6 / rps if rps else float("nan")
            print(f"| {'one redis-server' if kind == 'redis' else '3-master cluster (on one core)'} | {n} | {rps:.0f} | {100 * busy:.0f}% | {per:.1f} | {1e6 / per:.0f} per Redis core |")


def telemetry(out, reps):
    """req/s of each telemetry mode against "off", per store: the median of the
    rounds, and the ratio of medians (the runs alternated, so drift is shared)."""
    print()
    print("| store | mode | req/s per round | median req/s | vs off | p99 µs (median) | steal ms per round |")
    print("|---|---|---|---|---|---|---|")
    for store in ("embedded", "redis"):
        runs = {m: [load(out, f"telemetry-{store}-{m}-{r}") for r in range(1, reps + 1)]
                for m in ("off", "metrics", "logs", "both")}
        base = statistics.median(r["rps"] for r in runs["off"])
        for mode, rs in runs.items():
            med = statistics.median(r["rps"] for r in rs)
            p99 = statistics.median(r["p99_us"] for r in rs)
            each = " / ".join(f"{r['rps']:.0f}" for r in rs)
            print(f"| {store} | {mode} | {each} | {med:.0f} | {med / base:.3f} | {p99:.0f} | {steal(rs)} |")


def main():
    section, out = sys.argv[1], sys.argv[2]
    if section == "ratios":
        ratios(out)
    elif section == "quick":
        quick(out)
    elif section == "tail":
        tail(out, int(sys.argv[3]), sys.argv[4].split())
    elif section == "telemetry":
        telemetry(out, int(sys.argv[3]))
    elif section == "capacity":
        capacity(out, int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), [int(n) for n in sys.argv[6:]])
    else:
        sys.exit(f"unknown section {section}")


if __name__ == "__main__":
    main()
