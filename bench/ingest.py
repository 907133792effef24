"""`python -m bench.ingest`: accepted alerts per second and POST /api/alerts latency.

Closed-loop load at 16, 64 and 256 concurrent keep-alive connections (one
resident account each), from 2 load processes: throughput at saturation. Then
an open loop: 1,000 alerts/s offered on a fixed schedule over 64 connections,
latency counted from each request's scheduled time (coordinated omission
corrected): the latency a target is judged on. Against ours on SQLite
(embedded) and on PostgreSQL (fresh database, Redis bus), one worker,
durability as shipped (SQLite synchronous=FULL, PostgreSQL synchronous_commit on)."""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench import loadgen
from bench.common import free_port, markdown_table, progress, summary_ms, write_json
from bench.layout import random_points
from bench.plots import by_target, lines, name
from bench.procstat import cpu_by_name, machine_busy_cores, machine_jiffies
from bench.profile import summarize
from bench.seed import PgDatabase, drop_redis_prefix, seed_store
from bench.servers import HOST, Server, start_ours
from geo import DEMO_CITY_PATH, load_city

TARGET = ("postgresql", 64)  # closed loop: >= 1,000 accepted/s
OPEN_TARGET = ("postgresql", 64, 1000)  # open loop, 1,000/s offered over 64 connections: p99 <= 50 ms


def _load(
    srv: Server,
    tokens: list[str],
    points: list[tuple[float, float]],
    conc: int,
    procs: int,
    duration: float,
    rate: int | None = None,
) -> dict[str, Any]:
    """rate None: closed loop; else the open loop, `rate` requests/s in all over
    the `conc` connections, each sending every conc / rate s, the connections'
    phases spread evenly over that interval (by global index, across processes)."""
    ctx = mp.get_context("spawn")
    pipes, workers = [], []
    for k in range(procs):
        lanes = range(k, conc, procs)  # global indices of this process's connections
        mine = [tokens[g] for g in lanes]
        schedule = None if rate is None else (conc / rate, [g / rate for g in lanes])
        parent, child = ctx.Pipe()
        p = ctx.Process(
            target=loadgen.main, daemon=True, args=(child, HOST, srv.port, mine, points, duration, 200_000, schedule)
        )
        p.start()
        child.close()
        pipes.append(parent)
        workers.append(p)
    try:
        for pipe in pipes:
            if not pipe.poll(60):
                raise RuntimeError("a load process did not get ready within 60 s")
            kind, value = pipe.recv()
            if kind != "ready":
                raise RuntimeError(f"load process: {value}")
        start_at = time.monotonic() + 0.3
        cpu0, m0, db0 = srv.cpu(), machine_jiffies(), cpu_by_name("postgres")
        for pipe in pipes:
            pipe.send(start_at)
        results = []
        for pipe in pipes:
            if not pipe.poll(duration + loadgen.GRACE_S + 60):
                raise RuntimeError("a load process did not finish in time")
            kind, value = pipe.recv()
            if kind != "done":
                raise RuntimeError(f"load process: {value}")
            results.append(value)
        cpu1, m1, db1 = srv.cpu(), machine_jiffies(), cpu_by_name("postgres")
        # the open loop awaits answers past the window: its CPU shares are over the whole span
        span = duration if rate is None else max(duration, time.monotonic() - start_at)
    finally:
        for p in workers:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
    lat = [x for r in results for x in r["latencies"]]
    status: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    for r in results:
        status.update({int(code): n for code, n in r["status"].items()})
        errors.update(r["errors"])
    accepted = sum(r["accepted"] for r in results)  # 201s answered inside the window
    paced = (
        {}
        if rate is None
        else {
            "rate": rate,
            "offered_per_s": sum(r["scheduled"] for r in results) / duration,
            "late_sends": sum(r["late"] for r in results),
            # scheduled in the window, not answered by its end (awaited GRACE_S more: latencies kept)
            "outstanding": sum(r["outstanding"] for r in results),
        }
    )
    return {
        "concurrency": conc,
        **paced,
        "accepted": accepted,
        "accepted_per_s": accepted / duration,
        **summary_ms(lat),
        "other_status": {c: n for c, n in status.items() if c != 201},
        "errors": dict(errors),
        "server_cpu_util": (cpu1 - cpu0) / span,
        "load_cpu_util_max": max(r["cpu_s"] for r in results) / span,
        # every postgres process on the machine: only meaningful on the PostgreSQL runs
        "postgres_cpu_util": (db1 - db0) / span,
        "machine_busy_cores": machine_busy_cores(m0, m1),
    }


async def _prepare(
    store: str,
    tmp: Path,
    a: argparse.Namespace,
    homes: Sequence[tuple[float, float, str | None]],
    tag: str,
    prefix: str,
) -> tuple[str, str, list[str], PgDatabase | None]:
    if store == "sqlite":
        url = f"sqlite:///{tmp / 'ingest.sqlite3'}"
        return url, "memory://", await seed_store(url, homes, tag), None
    pg = PgDatabase(a.pg)
    await pg.create()
    return pg.url, a.redis, await seed_store(pg.url, homes, tag), pg


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.ingest", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="3 s per level: under a minute")
    ap.add_argument("--json", metavar="PATH")
    ap.add_argument("--concurrency", default="16,64,256")
    ap.add_argument("--stores", default="sqlite,postgresql")
    ap.add_argument("--rate", type=int, default=1000, help="open loop: alerts/s offered in all (default 1000)")
    ap.add_argument("--open-clients", type=int, default=64, help="open loop: connections (default 64)")
    ap.add_argument("--duration", type=float, help="seconds per level (default 10, quick 3)")
    ap.add_argument("--procs", type=int, default=2, help="load processes")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--profile", type=Path, metavar="DIR", help="run ours under py-spy; print where its CPU goes")
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    a = ap.parse_args(argv)
    levels = [int(c) for c in a.concurrency.split(",")]
    stores = [s.strip() for s in a.stores.split(",")]
    duration = a.duration or (3.0 if a.quick else 10.0)
    city = load_city(DEMO_CITY_PATH)
    rng = np.random.default_rng(11)
    accounts = max([*levels, a.open_clients])
    la, lo, secs = random_points(city, rng, accounts + 2000)
    homes = list(zip(la.tolist(), lo.tolist(), secs))[:accounts]
    points = list(zip(la.tolist(), lo.tolist()))[accounts:]
    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    tag, prefix = uuid.uuid4().hex[:8], f"bench-{uuid.uuid4().hex[:8]}"
    rows: list[dict[str, Any]] = []
    open_rows: list[dict[str, Any]] = []
    bar = progress(len(stores) * (len(levels) + 1), "ingest")
    try:
        for store in stores:
            url, bus, tokens, pg = asyncio.run(_prepare(store, tmp, a, homes, tag, prefix))
            spy = None
            if a.profile is not None:
                a.profile.mkdir(parents=True, exist_ok=True)
                spy = a.profile / f"profile-ingest-{store}.txt"
            srv = start_ours(
                f"ours-{store}",
                free_port(),
                tmp,
                url,
                bus,
                a.workers,
                extra_env={"DISPATCH_BUS_PREFIX": prefix},
                profile=spy,
            )
            try:
                asyncio.run(srv.wait_healthy())
                for conc in levels:
                    bar.set_postfix_str(f"{store} x{conc}")
                    try:
                        rows.append({"store": store, **_load(srv, tokens, points, conc, min(a.procs, conc), duration)})
                    except Exception as exc:
                        rows.append({"store": store, "concurrency": conc, "error": f"{exc}\n{srv.log_tail(10)}"})
                    bar.update(1)
                bar.set_postfix_str(f"{store} open {a.rate}/s x{a.open_clients}")
                try:
                    open_rows.append(
                        {
                            "store": store,
                            **_load(
                                srv, tokens, points, a.open_clients, min(a.procs, a.open_clients), duration, a.rate
                            ),
                        }
                    )
                except Exception as exc:
                    open_rows.append(
                        {
                            "store": store,
                            "concurrency": a.open_clients,
                            "rate": a.rate,
                            "error": f"{exc}\n{srv.log_tail(10)}",
                        }
                    )
                bar.update(1)
            finally:
                srv.stop()
                if pg is not None:
                    asyncio.run(pg.drop())
    finally:
        bar.close()
        try:
            asyncio.run(drop_redis_prefix(a.redis, prefix))
        except Exception:
            pass
        if not os.environ.get("BENCH_KEEP_LOGS"):
            shutil.rmtree(tmp, ignore_errors=True)
    code = _report(rows, open_rows, a, duration)
    if a.profile is not None:
        for f in sorted(a.profile.glob("profile-ingest-*.txt")):
            print("\n```\n" + summarize(f) + "\n```")
    return code


def _open_met(r: dict[str, Any]) -> bool:
    """The offered rate was served (>= 98 % accepted inside the window), every
    request answered with a 201, and p99 from the schedule within 50 ms."""
    served = r.get("accepted_per_s", 0) >= 0.98 * r.get("offered_per_s", math.inf)
    clean = r.get("other_status") == {} and r.get("errors") == {}
    return served and clean and r.get("p99_ms", math.inf) <= 50


def _report(rows: list[dict[str, Any]], open_rows: list[dict[str, Any]], a: argparse.Namespace, duration: float) -> int:
    ok = [r for r in rows if "error" not in r]
    open_ok = [r for r in open_rows if "error" not in r]
    print(f"## Ingest: POST /api/alerts, closed loop, {duration:.0f} s per level\n")
    print(
        markdown_table(
            ok,
            [
                ("store", "store"),
                ("concurrency", "clients"),
                ("accepted_per_s", "accepted/s"),
                ("p50_ms", "p50 ms"),
                ("p95_ms", "p95 ms"),
                ("p99_ms", "p99 ms"),
                ("server_cpu_util", "server CPU"),
                ("load_cpu_util_max", "load proc CPU max"),
                ("postgres_cpu_util", "postgres CPU"),
                ("machine_busy_cores", "busy cores"),
                ("other_status", "non-201"),
            ],
        )
    )
    for r in rows:
        if "error" in r:
            print(f"\n- {r['store']} x{r['concurrency']}: {r['error'][:600]}")
    print(f"\n## Open loop: {a.rate:,} alerts/s offered over {a.open_clients} connections, {duration:.0f} s\n")
    print("Latency from each request's scheduled time (coordinated omission corrected).\n")
    print(
        markdown_table(
            open_ok,
            [
                ("store", "store"),
                ("concurrency", "clients"),
                ("offered_per_s", "offered/s"),
                ("accepted_per_s", "accepted/s"),
                ("p50_ms", "p50 ms"),
                ("p95_ms", "p95 ms"),
                ("p99_ms", "p99 ms"),
                ("late_sends", "late sends"),
                ("server_cpu_util", "server CPU"),
                ("postgres_cpu_util", "postgres CPU"),
                ("machine_busy_cores", "busy cores"),
                ("other_status", "non-201"),
                ("errors", "errors"),
                ("outstanding", "outstanding"),
            ],
        )
    )
    for r in open_rows:
        if "error" in r:
            print(f"\n- {r['store']} open x{r['concurrency']}: {r['error'][:600]}")
    head = next((r for r in ok if (r["store"], r["concurrency"]) == TARGET), {})
    paced = next((r for r in open_ok if (r["store"], r["concurrency"], r["rate"]) == OPEN_TARGET), {})
    verdicts = [
        {
            "target": "PostgreSQL, 64 clients, closed loop: ≥ 1,000 accepted/s",
            "value": head.get("accepted_per_s"),
            "met": head.get("accepted_per_s", 0) >= 1000,
        },
        {
            "target": "PostgreSQL, 1,000/s offered over 64 clients: p99 ≤ 50 ms",
            "value": paced.get("p99_ms"),
            "met": _open_met(paced),
        },
        {
            "target": "PostgreSQL, 64 clients, closed loop (saturation): p99",
            "value": head.get("p99_ms"),
            "met": "n/a (Little's law: C ÷ throughput)",
        },
    ]
    print("\n## Targets\n")
    print(markdown_table(verdicts, [("target", "target"), ("value", "measured"), ("met", "met")]))
    plots = [
        str(
            lines(
                name("ingest_throughput", a.quick),
                "accepted alerts per second",
                "concurrent clients",
                "alerts/s",
                by_target(ok, "concurrency", "accepted_per_s", "store"),
                logx=True,
            )
        ),
        str(
            lines(
                name("ingest_p99", a.quick),
                "p99 of POST /api/alerts",
                "concurrent clients",
                "p99 (ms)",
                by_target(ok, "concurrency", "p99_ms", "store"),
                logx=True,
                logy=True,
            )
        ),
    ]
    print("\nplots: " + ", ".join(plots))
    doc: dict[str, Any] = {
        "bench": "ingest",
        "quick": a.quick,
        "duration_s": duration,
        "targets": verdicts,
        "runs": rows,
        "open_loop": open_rows,
        "plots": plots,
    }
    for r in ok:
        doc[f"{r['store']}_{r['concurrency']}_accepted_per_s"] = r["accepted_per_s"]
        doc[f"{r['store']}_{r['concurrency']}_p99_ms"] = r["p99_ms"]
    for r in open_ok:
        doc[f"{r['store']}_open_{r['rate']}_accepted_per_s"] = r["accepted_per_s"]
        doc[f"{r['store']}_open_{r['rate']}_p99_ms"] = r["p99_ms"]
    write_json(a.json, doc)
    return 0 if ok and open_ok else 1


if __name__ == "__main__":
    sys.exit(main())
