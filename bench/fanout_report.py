"""The fan-out bench's output: Markdown tables, target verdicts, JSON, plots."""

from __future__ import annotations

import argparse
import math
import os
import resource
from typing import Any

from bench.common import markdown_table, ratio
from bench.plots import by_target, lines, name

HEADLINE = "ours-embedded"  # the product as shipped: one worker, SQLite, in-process bus
TARGET_N = 5000  # the p99 target is stated for 5,000 recipients in one sector

COLUMNS = [
    ("target", "target"),
    ("subscribers", "N"),
    ("sector_p50_ms", "sector p50 ms"),
    ("sector_p95_ms", "p95 ms"),
    ("sector_p99_ms", "p99 ms"),
    ("radius_p99_ms", "radius p99 ms"),
    ("radius_mean_audience", "radius audience"),
    ("deliveries_per_s", "deliveries/s"),
    ("x_floor", "x floor"),
    ("x_naive", "x naive"),
    ("cpu_s_per_1k", "CPU s/1k"),
    ("x_floor_cpu", "x floor (CPU)"),
    ("x_naive_cpu", "x naive (CPU)"),
    ("rss_per_conn_kb", "RSS KB/conn"),
    ("server_cpu_util", "server CPU"),
    ("client_cpu_util_max", "client CPU max"),
    ("machine_busy_cores", "busy cores"),
    ("lost", "lost"),
]


def _add_ratios(rows: list[dict[str, Any]]) -> None:
    for r in rows:
        same = {x["target"]: x for x in rows if x["subscribers"] == r["subscribers"]}
        dps = r.get("deliveries_per_s")
        r["x_floor"] = ratio(dps, same.get("floor", {}).get("deliveries_per_s"))
        r["x_naive"] = ratio(dps, same.get("naive", {}).get("deliveries_per_s"))
        # the same comparison by server CPU per delivery: less sensitive to what
        # else the 2 cores are doing (clients, softirq, neighbours)
        cpu = r.get("cpu_s_per_1k")
        r["x_floor_cpu"] = ratio(same.get("floor", {}).get("cpu_s_per_1k"), cpu)
        r["x_naive_cpu"] = ratio(same.get("naive", {}).get("cpu_s_per_1k"), cpu)
        if r.get("sector_incomplete") or r.get("radius_incomplete") or r.get("missing"):
            r["lost"] = r.get("lost") or 0  # shown; the details stay in the JSON


def _pick(rows: list[dict[str, Any]], target: str, n: int) -> dict[str, Any]:
    return next((r for r in rows if r["target"] == target and r["subscribers"] == n), {})


def _verdicts(rows: list[dict[str, Any]], sizes: list[int]) -> list[dict[str, Any]]:
    out = []
    ours = [r for r in rows if r["target"] == HEADLINE and "deliveries_per_s" in r]
    worst_floor = min((r["x_floor"] for r in ours if not math.isnan(r["x_floor"])), default=math.nan)
    worst_naive = min((r["x_naive"] for r in ours if not math.isnan(r["x_naive"])), default=math.nan)
    out.append(
        {"target": "fan-out throughput >= 0.6 x floor (worst size)", "value": worst_floor, "met": worst_floor >= 0.6}
    )
    out.append(
        {"target": "fan-out throughput >= 3 x naive (worst size)", "value": worst_naive, "met": worst_naive >= 3}
    )
    for key, what in (("x_floor_cpu", "floor"), ("x_naive_cpu", "naive")):
        worst = min((r[key] for r in ours if not math.isnan(r.get(key, math.nan))), default=math.nan)
        out.append(
            {
                "target": f"(same, by server CPU per delivery: {what}'s / ours, worst size)",
                "value": worst,
                "met": worst >= (0.6 if what == "floor" else 3),
            }
        )
    floors = [r for r in rows if r["target"] == "floor" and not math.isnan(r.get("x_naive", math.nan))]
    if floors:  # for scale: a target above the floor's own ratio is out of reach for any Python server
        best = max(r["x_naive"] for r in floors)
        out.append({"target": "(for scale: the floor's own throughput / naive, best size)", "value": best, "met": None})
    n = TARGET_N if TARGET_N in sizes else max(sizes)
    p99 = _pick(rows, HEADLINE, n).get("sector_p99_ms", math.nan)
    out.append({"target": f"p99 POST -> last of {n:,} in one sector <= 150 ms", "value": p99, "met": p99 <= 150})
    fp99 = _pick(rows, "floor", n).get("sector_p99_ms", math.nan)
    out.append({"target": f"(for scale: the floor's p99 to the last of {n:,})", "value": fp99, "met": None})
    rss = max((r.get("rss_per_conn_kb", math.nan) for r in ours), default=math.nan)
    out.append({"target": "RSS per idle connection <= 40 KB (worst size)", "value": rss, "met": rss <= 40})
    return out


def report(rows: list[dict[str, Any]], a: argparse.Namespace, notes: list[str]) -> dict[str, Any]:
    _add_ratios(rows)
    ok = [r for r in rows if "error" not in r]
    print("## Fan-out: POST -> last intended recipient\n")
    print(markdown_table(ok, COLUMNS))
    print(
        "\nsector = every subscriber lives in the alert's sector (audience N); radius = alert in a sector"
        " with no subscriber, audience = homes within radius_m. x floor / x naive: deliveries/s ratio"
        " at the same N; (CPU): the same ratio by server CPU per delivery."
        " CPU s/1k: server CPU seconds per 1,000 deliveries during the burst."
        " client CPU max: busiest client process, share of one core."
    )
    verdicts = _verdicts(ok, a.sizes)
    print("\n## Targets\n")
    print(markdown_table(verdicts, [("target", "target"), ("value", "measured"), ("met", "met")]))
    failed = [r for r in rows if "error" in r]
    for r in failed:
        print(f"\n- {r['target']} N={r['subscribers']}: {r['error'][:400]}")
    for note in notes:
        print(f"\n- {note}")
    light = [r for r in ok if r["target"] == "floor"]
    if light:
        r = max(light, key=lambda r: r["subscribers"])
        print(
            f"\nlight clients ({a.procs} processes): on the floor's burst at N={r['subscribers']:,} the busiest"
            f" client process used {r['client_cpu_util_max']:.0%} of a core, and they ingest"
            f" {r['client_frames_per_cpu_s']:,.0f} frames per CPU-second; every target is measured below"
            " the rate these same clients take from the floor."
        )
    n = TARGET_N if TARGET_N in a.sizes else max(a.sizes)
    ours, floor, naive = _pick(ok, HEADLINE, n), _pick(ok, "floor", n), _pick(ok, "naive", n)
    plots = [
        str(
            lines(
                name("fanout_latency", a.quick),
                "p99 POST -> last recipient (sector alert)",
                "subscribers",
                "p99 latency (ms)",
                by_target(ok, "subscribers", "sector_p99_ms"),
                logx=True,
                logy=True,
            )
        ),
        str(
            lines(
                name("fanout_throughput", a.quick),
                "deliveries per second under a burst",
                "subscribers",
                "deliveries/s",
                by_target(ok, "subscribers", "deliveries_per_s"),
                logx=True,
            )
        ),
    ]
    print("\nplots: " + ", ".join(plots))
    return {
        "bench": "fanout",
        "quick": a.quick,
        "machine": {
            "cpus": os.cpu_count(),
            "fd_hard_limit": resource.getrlimit(resource.RLIMIT_NOFILE)[1],
            "client_processes": a.procs,
        },
        "headline_target": HEADLINE,
        "subscribers": n,
        "p50_ms": ours.get("sector_p50_ms"),
        "p95_ms": ours.get("sector_p95_ms"),
        "p99_ms": ours.get("sector_p99_ms"),
        "radius_p99_ms": ours.get("radius_p99_ms"),
        "deliveries_per_s": ours.get("deliveries_per_s"),
        "cpu_s_per_1k_deliveries": ours.get("cpu_s_per_1k"),
        "rss_per_conn_kb": ours.get("rss_per_conn_kb"),
        "floor_deliveries_per_s": floor.get("deliveries_per_s"),
        "floor_p99_ms": floor.get("sector_p99_ms"),
        "naive_deliveries_per_s": naive.get("deliveries_per_s"),
        "naive_p99_ms": naive.get("sector_p99_ms"),
        "ours_over_floor": ours.get("x_floor"),
        "ours_over_naive": ours.get("x_naive"),
        "ours_over_floor_by_cpu": ours.get("x_floor_cpu"),
        "ours_over_naive_by_cpu": ours.get("x_naive_cpu"),
        "client_cpu_util_max": max((r.get("client_cpu_util_max", 0.0) for r in ok), default=None),
        "client_frames_per_cpu_s": floor.get("client_frames_per_cpu_s"),
        "targets": verdicts,
        "notes": notes,
        "plots": plots,
        "runs": rows,
    }
