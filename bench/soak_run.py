"""The soak's traffic: a server seeded with residents and one dispatcher,
alerts at a steady rate from many residents, and a dispatcher who closes
what is older than a few minutes (bench/soak.py drives it)."""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from bench.common import free_port
from bench.httpc import HttpConn
from bench.layout import random_points
from bench.seed import seed_store
from bench.servers import HOST, Server, start_ours

DISPATCHER = "soak-dispatcher@bench.invalid"
PASSWORD = "correct horse battery staple"
CATEGORIES = ("theft", "vandalism", "burglary", "suspicious", "rodeo", "ecology", "solidarity", "weather")


@dataclass
class Site:
    server: Server
    tokens: list[str]
    homes: list[tuple[float, float, str | None]]
    city: Any

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server.port}"


async def seed_dispatcher(url: str) -> None:
    from dispatch.adapters import open_store
    from dispatch.core.model import NewUser
    from dispatch.usecases.sessions import hash_password

    store = open_store(url, 2)
    await store.connect()
    try:
        await store.migrate()
        await store.add_users([NewUser("dispatcher", DISPATCHER, hash_password(PASSWORD), "Soak")])
    finally:
        await store.close()


async def start_site(name: str, database_url: str, residents: int, log_dir: Path, seed: int) -> Site:
    """Our server (embedded unless database_url says PostgreSQL), with
    `residents` validated residents spread over the whole city and one
    dispatcher. The per-resident limit stays as shipped: bench/soak.py
    picks enough residents that none reaches it."""
    from geo import DEMO_CITY_PATH, load_city

    city = load_city(DEMO_CITY_PATH)
    lats, lons, secs = random_points(city, np.random.default_rng(seed), residents)
    homes: list[tuple[float, float, str | None]] = [(float(a), float(b), s) for a, b, s in zip(lats, lons, secs)]
    tokens = await seed_store(database_url, homes, name)
    await seed_dispatcher(database_url)
    # the benches' start_ours lifts the alert limit; the soak keeps the shipped one
    env = {"DISPATCH_LIMITS_ALERTS_PER_WINDOW": "10"}
    server = start_ours(name, free_port(), log_dir, database_url, extra_env=env)
    await server.wait_healthy()
    return Site(server, tokens, homes, city)


async def staff_token(site: Site) -> str:
    conn = await HttpConn.open(HOST, site.server.port)
    try:
        status, body = await conn.json("POST", "/api/auth/login", {"email": DISPATCHER, "password": PASSWORD})
    finally:
        conn.close()
    if status != 200:
        raise RuntimeError(f"the dispatcher's login answered {status}")
    return str(body["token"])


@dataclass
class Load:
    """What the load did: answers by status, incidents closed, errors."""

    answers: Counter[int] = field(default_factory=Counter)
    closed: int = 0
    close_answers: Counter[int] = field(default_factory=Counter)
    errors: int = 0
    retried: int = 0  # alerts sent again on a fresh connection


async def post_alerts(site: Site, rate: float, stop: asyncio.Event, load: Load, seed: int) -> None:
    """Open loop at `rate` alerts/s, round-robin over the residents, each
    alert near its author's home (within ~300 m), on a few keep-alive
    connections so a slow answer does not delay the next send."""
    rng = random.Random(seed)
    conns: list[HttpConn | None] = [None] * 8
    busy = [False] * len(conns)
    interval = 1.0 / rate
    start = time.monotonic()
    n = 0

    async def one(slot: int, k: int) -> None:
        home_lat, home_lon, _ = site.homes[k]
        lat, lon = home_lat + rng.uniform(-0.0027, 0.0027), home_lon + rng.uniform(-0.0037, 0.0037)
        if site.city.sector_of(lat, lon) is None:  # off the city's edge: at home instead
            lat, lon = home_lat, home_lon
        body = {
            "category": rng.choice(CATEGORIES),
            "lat": lat,
            "lon": lon,
            "text": "soak",
            "client_id": secrets.token_hex(8),
        }
        headers = {"Authorization": f"Bearer {site.tokens[k]}"}
        try:
            # twice at most: a kept connection the server closed while idle
            # (uvicorn's 5 s keep-alive) fails at once, and the same
            # client_id sent again can only be stored once
            for attempt in (0, 1):
                try:
                    conn = conns[slot] = conns[slot] or await HttpConn.open(HOST, site.server.port)
                    status, _ = await conn.request("POST", "/api/alerts", orjson.dumps(body), headers, timeout=30)
                    load.answers[status] += 1
                    break
                except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
                    if conns[slot] is not None:
                        conns[slot].close()  # type: ignore[union-attr]
                    conns[slot] = None
                    if attempt:
                        load.errors += 1
                    else:
                        load.retried += 1
        finally:
            busy[slot] = False

    tasks: set[asyncio.Task[None]] = set()
    while not stop.is_set():
        due = start + n * interval
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        free = next((i for i, b in enumerate(busy) if not b), None)
        if free is None:
            load.answers[-1] += 1  # every connection busy: the send is skipped, counted
        else:
            busy[free] = True  # taken now, before the task first runs
            task = asyncio.create_task(one(free, n % len(site.tokens)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        n += 1
    await asyncio.gather(*tasks, return_exceptions=True)
    for c in conns:
        if c is not None:
            c.close()


async def close_old(site: Site, token: str, older_s: float, every_s: float, stop: asyncio.Event, load: Load) -> None:
    """A dispatcher's routine: every `every_s`, each open incident opened more
    than `older_s` ago is acknowledged, then resolved (the lifecycle goes
    new -> acknowledged -> resolved). Without it the wall's open incidents
    grow without bound, as they should: they are open."""
    headers = {"Authorization": f"Bearer {token}"}
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), every_s)
            break
        except TimeoutError:
            pass
        # a connection per pass: uvicorn closes one idle for 5 s (its
        # keep-alive timeout), shorter than the pause between passes
        conn: HttpConn | None = None
        try:
            conn = await HttpConn.open(HOST, site.server.port)
            status, rows = await conn.json("GET", "/api/incidents?status=open&limit=5000", headers=headers)
            if status != 200:
                load.close_answers[status] += 1
                continue
            for inc in _older(rows, older_s):
                for target in ("acknowledged", "resolved"):
                    if inc["status"] != "new" and target == "acknowledged":
                        continue
                    s, _ = await conn.json("PATCH", f"/api/incidents/{inc['id']}", {"status": target}, headers)
                    load.close_answers[s] += 1
                load.closed += 1
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
            load.errors += 1
        finally:
            if conn is not None:
                conn.close()


def _older(rows: list[dict[str, Any]], older_s: float) -> list[dict[str, Any]]:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    out = []
    for inc in rows:
        created = datetime.fromisoformat(inc["created_at"].replace("Z", "+00:00"))
        if (now - created).total_seconds() > older_s:
            out.append(inc)
    return out
