"""`python -m bench.fanout`: POST -> last recipient, ours beside the floor and a naive server.

Targets measured on the same connections, in the same run:
  floor          raw asyncio, one prebuilt frame written to every transport (bench.floor)
  naive          Starlette on uvicorn (defaults), haversine scan + json.dumps + send_text per connection (bench.naive)
  ours-embedded  `python -m dispatch serve`, SQLite + in-process bus, 1 worker
  ours-pg-1w     PostgreSQL (a fresh database) + Redis bus, 1 worker
  ours-pg-2w     the same with 2 workers"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from bench.clients import ClientPool
from bench.common import log, progress, write_json
from bench.fanout_report import report
from bench.fanout_run import Plan, Target, measure
from bench.layout import make_layout
from bench.profile import summarize
from bench.seed import PgDatabase, drop_redis_prefix, seed_store
from bench.servers import start_floor, start_naive, start_ours
from geo import DEMO_CITY_PATH, load_city

ALL_TARGETS = ("floor", "naive", "ours-embedded", "ours-pg-1w", "ours-pg-2w")
AUTHORS = 4
# The server process holds every connection plus its listen socket, log,
# database pool and bus links: stay ~1,000 fds under the hard limit.
FD_HEADROOM = 1000


def max_subscribers() -> int:
    return resource.getrlimit(resource.RLIMIT_NOFILE)[1] - FD_HEADROOM


def _args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m bench.fanout", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="one small size, few rounds: under a minute")
    ap.add_argument("--json", metavar="PATH")
    ap.add_argument("--sizes", help="comma-separated subscriber counts; 'max' = fd hard limit - 1000")
    ap.add_argument("--targets", default=",".join(ALL_TARGETS), help="comma-separated, from the list above")
    ap.add_argument("--procs", type=int, default=4, help="client processes")
    ap.add_argument("--rounds", type=int, help="sector alerts per target and size (latency)")
    ap.add_argument("--radius-rounds", type=int, help="radius alerts per target and size")
    ap.add_argument("--burst-deliveries", type=int, help="burst size in deliveries (alerts = this / N)")
    ap.add_argument("--bursts", type=int, help="bursts per target and size; the best counts (default 3, quick 2)")
    ap.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="run ours under py-spy and summarise where its CPU goes (slows it down)",
    )
    ap.add_argument("--sector", default="est", help="the sector every subscriber lives in")
    ap.add_argument("--radius-m", type=float, default=500.0)
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--seed", type=int, default=4)
    a = ap.parse_args(argv)
    sizes = a.sizes or ("2000" if a.quick else "1000,5000,max")
    a.sizes = sorted({max_subscribers() if s.strip() == "max" else int(s) for s in sizes.split(",")})
    a.targets = [t.strip() for t in a.targets.split(",") if t.strip()]
    unknown = set(a.targets) - set(ALL_TARGETS)
    if unknown:
        ap.error(f"unknown targets {sorted(unknown)}; choose from {ALL_TARGETS}")
    a.rounds = a.rounds or (12 if a.quick else 60)
    a.radius_rounds = a.radius_rounds or (6 if a.quick else 30)
    a.burst_deliveries = a.burst_deliveries or (30_000 if a.quick else 200_000)
    a.bursts = a.bursts or (2 if a.quick else 3)
    if a.profile is not None:
        a.profile.mkdir(parents=True, exist_ok=True)
    return a


async def _ours(
    name: str,
    url: str,
    homes: list[tuple[float, float, str | None]],
    tag: str,
    bus: str,
    workers: int,
    radius: float,
    prefix: str | None,
) -> Target:
    tokens = await seed_store(url, homes, tag)
    env = {"DISPATCH_BUS_PREFIX": prefix} if prefix else None

    def start(port: int, log_dir: Path, profile: Path | None) -> Any:
        return start_ours(name, port, log_dir, url, bus, workers, radius, env, profile)

    return Target(name, "ours", start, tokens[:-AUTHORS], tokens[-1], workers)


async def run(a: argparse.Namespace) -> dict[str, Any]:
    city = load_city(DEMO_CITY_PATH)
    top = max(a.sizes)
    layout = make_layout(city, top, a.sector, a.radius_m, a.seed)
    rng = np.random.default_rng(a.seed + 1)
    sector_alerts = layout.sector_alerts(rng, a.rounds)
    radius_alerts = {n: layout.radius_alerts(rng, a.radius_rounds, n) for n in a.sizes}
    homes = [(la, lo, a.sector) for la, lo in zip(layout.lat.tolist(), layout.lon.tolist())]
    homes += [(sector_alerts[0].lat, sector_alerts[0].lon, a.sector)] * AUTHORS  # authors: never connected
    tmp = Path(tempfile.mkdtemp(prefix="bench-fanout-"))
    run_tag = uuid.uuid4().hex[:8]
    prefix = f"bench-{run_tag}"
    pg: PgDatabase | None = None
    targets: list[Target] = []
    notes: list[str] = []
    pool: ClientPool | None = None
    rows: list[dict[str, Any]] = []
    try:
        log(f"fanout: sizes {a.sizes}, targets {a.targets}, {a.procs} client processes; seeding accounts")
        embedded_tokens: list[str] | None = None
        for name in a.targets:
            try:
                if name == "floor":
                    targets.append(Target("floor", "floor", lambda p, d, _: start_floor(p, d), None, None))
                elif name == "ours-embedded":
                    t = await _ours(
                        name, f"sqlite:///{tmp / 'embedded.sqlite3'}", homes, run_tag, "memory://", 1, a.radius_m, None
                    )
                    embedded_tokens = list(t.tokens or [])
                    targets.append(t)
                elif name.startswith("ours-pg"):
                    if pg is None:  # one database, seeded once, for both worker counts
                        pg = PgDatabase(a.pg)
                        await pg.create()
                        pg_seeded = await _ours(name, pg.url, homes, run_tag, a.redis, 1, a.radius_m, prefix)
                    workers = 2 if name.endswith("2w") else 1
                    targets.append(
                        Target(
                            name,
                            "ours",
                            _pg_start(name, pg.url, a, workers, prefix),
                            pg_seeded.tokens,
                            pg_seeded.author,
                            workers,
                        )
                    )
            except Exception as exc:  # the product may not run yet: measure the rest, say why
                notes.append(f"{name}: could not prepare: {type(exc).__name__}: {exc}")
                log(notes[-1])
        if "naive" in a.targets:  # same tokens as the embedded store, so its clients carry the same headers
            tokens = embedded_tokens or [uuid.uuid4().hex for _ in range(top)]
            homes_path = tmp / "naive-homes.json"
            homes_path.write_text(json.dumps({tok: list(h) for tok, h in zip(tokens, homes)}))
            targets.insert(
                min(1, len(targets)),
                Target("naive", "naive", _naive_start(homes_path, a, "auto", "naive"), tokens, None),
            )
        pool = ClientPool(a.procs)
        per_size = sum(a.rounds + (0 if t.kind == "floor" else a.radius_rounds) + 1 for t in targets)
        steps = len(a.sizes) * per_size
        bar = progress(steps, "fanout")
        for n in a.sizes:
            plan = Plan(sector_alerts, radius_alerts[n], a.burst_deliveries, tmp, a.bursts, a.profile)
            for t in targets:
                bar.set_postfix_str(f"{t.name} N={n}")
                row = await measure(t, n, pool, layout, plan, lambda: bar.update(1))
                if "error" in row:
                    log(f"{t.name} N={n}: {row['error']}")
                rows.append(row)
        bar.close()
    finally:
        if pool is not None:
            pool.stop()
        if pg is not None:
            await pg.drop()
        try:
            await drop_redis_prefix(a.redis, prefix)
        except Exception as exc:
            notes.append(f"redis cleanup: {exc}")
        keep = os.environ.get("BENCH_KEEP_LOGS")
        if keep:
            log(f"server logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    doc = report(rows, a, notes)
    if a.profile is not None:
        for f in sorted(a.profile.glob("profile-*.txt")):
            print("\n```\n" + summarize(f) + "\n```")
    return doc


def _naive_start(homes_path: Path, a: argparse.Namespace, ws: str, name: str) -> Any:
    def start(port: int, log_dir: Path, profile: Path | None) -> Any:
        return start_naive(port, log_dir, homes_path, a.radius_m, ws, name)

    return start


def _pg_start(name: str, url: str, a: argparse.Namespace, workers: int, prefix: str) -> Any:
    def start(port: int, log_dir: Path, profile: Path | None) -> Any:
        return start_ours(
            name, port, log_dir, url, a.redis, workers, a.radius_m, {"DISPATCH_BUS_PREFIX": prefix}, profile
        )

    return start


def main(argv: list[str] | None = None) -> int:
    a = _args(argv)
    doc = asyncio.run(run(a))
    write_json(a.json, doc)
    return 0 if doc.get("runs") else 1


if __name__ == "__main__":
    sys.exit(main())
