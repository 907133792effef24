"""`python -m bench.storm`: 10,000 residents reconnect at once after a restart.

Targets, on the same client processes in the same run (bench/storm_run.py):
  bare           uvicorn + websockets, a raw ASGI app that accepts every socket (bench.bare)
  ours-embedded  `python -m dispatch serve`, SQLite + in-process bus, 1 worker
  ours-pg-2w     PostgreSQL (a fresh database) + Redis bus, 2 workers

Reports the handshake rate (upgrades/s), p50/p99 handshake latency, the time
until every client is whole (connected and holding every alert posted while
it was away), refusals by kind, and ours / bare."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from bench.clients import ClientPool
from bench.common import log, markdown_table, ratio, write_json
from bench.fanout_run import Target
from bench.layout import make_layout
from bench.seed import PgDatabase, drop_redis_prefix, seed_store
from bench.servers import start_bare, start_ours
from bench.storm_client import main as storm_client_main
from bench.storm_run import measure
from bench.storm_where import table
from geo import DEMO_CITY_PATH, load_city

ALL_TARGETS = ("bare", "ours-embedded", "ours-pg-2w")
GAP_ALERTS = 5


def _args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m bench.storm", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="2,000 clients, bare and embedded: under a minute")
    ap.add_argument("--clients", type=int, help="residents reconnecting (default 10,000; 2,000 with --quick)")
    ap.add_argument("--json", metavar="PATH")
    ap.add_argument("--targets", help=f"comma-separated, from {ALL_TARGETS}")
    ap.add_argument("--procs", type=int, default=4, help="client processes, each on its own source address")
    ap.add_argument("--profile", type=Path, metavar="DIR", help="run ours under py-spy from its restart on")
    ap.add_argument("--sector", default="est")
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    a = ap.parse_args(argv)
    a.clients = a.clients or (2000 if a.quick else 10_000)
    default = "bare,ours-embedded" if a.quick else ",".join(ALL_TARGETS)
    a.targets = [t.strip() for t in (a.targets or default).split(",") if t.strip()]
    unknown = set(a.targets) - set(ALL_TARGETS)
    if unknown:
        ap.error(f"unknown targets {sorted(unknown)}; choose from {ALL_TARGETS}")
    if a.profile is not None:
        a.profile.mkdir(parents=True, exist_ok=True)
    return a


async def _targets(
    a: argparse.Namespace, tmp: Path, homes: list[Any], tag: str, prefix: str
) -> tuple[list[Target], PgDatabase | None]:
    out: list[Target] = []
    pg: PgDatabase | None = None
    tokens: list[str] = []
    for name in a.targets:
        if name == "ours-embedded":
            url = f"sqlite:///{tmp / 'embedded.sqlite3'}"
            tokens = await seed_store(url, homes, tag)
            out.append(Target(name, "ours", _ours_start(name, url, "memory://", 1, None), tokens[:-1], tokens[-1]))
        elif name == "ours-pg-2w":
            pg = PgDatabase(a.pg)
            await pg.create()
            toks = await seed_store(pg.url, homes, tag)
            out.append(Target(name, "ours", _ours_start(name, pg.url, a.redis, 2, prefix), toks[:-1], toks[-1], 2))
            tokens = tokens or toks
    if "bare" in a.targets:  # the same bearer headers, so the requests are the same size
        bare_tokens = tokens[:-1] or [uuid.uuid4().hex for _ in range(a.clients)]
        out.insert(0, Target("bare", "bare", lambda p, d, _: start_bare(p, d), bare_tokens, None))
    return out, pg


def _ours_start(name: str, url: str, bus: str, workers: int, prefix: str | None) -> Any:
    env = {"DISPATCH_BUS_PREFIX": prefix} if prefix else None

    def start(port: int, log_dir: Path, profile: Path | None) -> Any:
        return start_ours(name, port, log_dir, url, bus, workers, extra_env=env, profile=profile)

    return start


async def run(a: argparse.Namespace) -> dict[str, Any]:
    city = load_city(DEMO_CITY_PATH)
    layout = make_layout(city, a.clients, a.sector, 500.0)
    alerts = layout.sector_alerts(np.random.default_rng(7), GAP_ALERTS + 1)
    homes = [(la, lo, a.sector) for la, lo in zip(layout.lat.tolist(), layout.lon.tolist())]
    homes.append((alerts[0].lat, alerts[0].lon, a.sector))  # the author: never connected
    tmp = Path(tempfile.mkdtemp(prefix="bench-storm-"))
    tag = uuid.uuid4().hex[:8]
    prefix = f"bench-{tag}"
    pg: PgDatabase | None = None
    pool: ClientPool | None = None
    rows: list[dict[str, Any]] = []
    try:
        log(f"storm: {a.clients} clients, targets {a.targets}; seeding accounts")
        targets, pg = await _targets(a, tmp, homes, tag, prefix)
        pool = ClientPool(a.procs, storm_client_main)
        for t in targets:
            log(f"storm: {t.name}")
            spy = a.profile / f"profile-{t.name}.txt" if a.profile is not None and t.kind == "ours" else None
            row = await measure(t, a.clients, pool, alerts[0], alerts[1:], tmp, spy)
            if "error" in row:
                log(f"{t.name}: {row['error']}")
            rows.append(row)
    finally:
        if pool is not None:
            pool.stop()
        if pg is not None:
            await pg.drop()
        await drop_redis_prefix(a.redis, prefix)
        if os.environ.get("BENCH_KEEP_LOGS"):
            log(f"server logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return report(rows, a)


COLUMNS = [
    ("target", "target"),
    ("clients", "clients"),
    ("reconnected", "reconnected"),
    ("handshakes_per_s", "handshakes/s"),
    ("x_bare", "x bare"),
    ("handshake_p50_ms", "p50 ms"),
    ("handshake_p99_ms", "p99 ms"),
    ("all_open_s", "all open s"),
    ("whole_s", "whole s"),
    ("gap_alerts", "gap alerts"),
    ("missing", "missing"),
    ("duplicates", "dup"),
    ("refused", "refused"),
    ("open_after", "open after"),
    ("server_cpu_s", "server CPU s"),
    ("cpu_ms_per_handshake", "CPU ms/handshake"),
    ("x_bare_cpu", "x bare (CPU)"),
    ("machine_busy_cores", "busy cores"),
    ("stop_s", "SIGTERM→exit s"),
]


def report(rows: list[dict[str, Any]], a: argparse.Namespace) -> dict[str, Any]:
    bare = next((r for r in rows if r["target"] == "bare" and "error" not in r), None)
    for r in rows:  # CPU per handshake depends less on what else the two cores run than the rate does
        r["cpu_ms_per_handshake"] = ratio(r.get("server_cpu_s"), r.get("reconnected")) * 1e3
    for r in rows:
        r["x_bare"] = ratio(r.get("handshakes_per_s"), bare["handshakes_per_s"]) if bare else None
        r["x_bare_cpu"] = ratio(bare["cpu_ms_per_handshake"], r["cpu_ms_per_handshake"]) if bare else None
    ok = [r for r in rows if "error" not in r]
    print(f"\n### Reconnect storm: {a.clients:,} residents at once after a restart\n")
    print(markdown_table(ok, COLUMNS))
    for r in ok:
        extra = {
            k: r[k]
            for k in ("errors", "old_close_codes", "old_no_close_frame", "without_since", "closes_after")
            if r.get(k)
        }
        if extra:
            print(f"\n{r['target']}: {extra}")
    for r in rows:
        if "error" in r:
            print(f"\n{r['target']}: **failed**: {r['error']}")
    if a.profile is not None:
        for f in sorted(a.profile.glob("profile-*.txt")):
            print("\n" + table(f))
    return {"bench": "storm", "clients": a.clients, "runs": ok, "failed": [r for r in rows if "error" in r]}


def main(argv: list[str] | None = None) -> int:
    a = _args(argv)
    doc = asyncio.run(run(a))
    write_json(a.json, doc)
    return 0 if doc["runs"] and not doc["failed"] else 1


if __name__ == "__main__":
    sys.exit(main())
