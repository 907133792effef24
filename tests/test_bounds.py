"""Every in-memory cache and buffer of the server has a bound (docs/bounds.md):
each is filled past it here and must stay there, and the document must
name each one. The page-side bounds are checked by the soak
(bench/soak.py) and named in the same document."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import h3

from dispatch.adapters.grouping_sql import SKEW_S, FactsCache, GroupCache
from dispatch.adapters.limits_memory import SWEEP_EVERY, MemoryLimits
from dispatch.adapters.limits_redis import PIPELINE_MAX, RedisLimits
from dispatch.core import grouping, routing
from dispatch.core.grouping import AlertFacts, Group
from dispatch.core.model import Alert
from geo import DEMO_CITY_PATH, cells, load_city
from tests.conftest import REDIS_URL, require

REPO = Path(__file__).resolve().parent.parent
BOUNDS_DOC = REPO / "docs" / "bounds.md"

# each bound as docs/bounds.md names it (`Name` in its "where" column)
NAMED = [
    "FactsCache.MAX",
    "FactsCache.SWEEP_EVERY",
    "GroupCache.MAX",
    "SKEW_S",
    "DISK_CACHE_SIZE",
    "grouping._disk",
    "cells._geometry",
    "audience._circumradius_m",
    "Sessions.CACHE_SIZE",
    "limits_memory.SWEEP_EVERY",
    "Hub._encoded",
    "Hub.app_reached",
    "stream.send_queue_bytes",
    "stream.replay_max",
    "HashGate",
    "LoginGuard._clean_in_flight",
    "MAX_ALERT_BATCH",
    "PIPELINE_MAX",
    "TEMPLATES",
    "JWT_CACHE",
    "SmtpSender._idle",
    "MemoryBus",
    "LINGER_S",
    "gc_policy",
    "KNOWN_PER_SECTOR",
    "feed.js CAP",
    "pinned.js CAP",
    "PulseLayer cap",
    "HexLayer.alerts",
    "outlines",
    "unitNames",
    "Tally.open",
]


def _alert(i: int, created: datetime) -> Alert:
    return Alert(i, 1, "theft", 43.1837, 3.0042, "", None, "centre", "x", "new", 0.0, None, created, created, i)


def _facts(i: int, created: float) -> AlertFacts:
    return AlertFacts.of(i, 1, "theft", 43.1837, 3.0042, created)


def test_docs_bounds_names_every_bound() -> None:
    text = BOUNDS_DOC.read_text(encoding="utf-8")
    missing = [n for n in NAMED if f"`{n}`" not in text]
    assert missing == []
    # and the table has one row per bound at least
    rows = [line for line in text.splitlines() if re.match(r"^\| [^-]", line)]
    assert len(rows) - 1 >= len(NAMED) - 6  # a few rows name two bounds


def test_facts_cache_keeps_at_most_max() -> None:
    facts = FactsCache()
    facts.MAX = 100
    now = datetime.now(UTC)
    for k in range(0, 350, 50):
        facts.add([_alert(i, now) for i in range(k, k + 50)])
        assert len(facts) <= 100


def test_facts_and_groups_forget_what_the_window_closed() -> None:
    facts = FactsCache()
    facts.SWEEP_GAP_S = 0.0
    groups = GroupCache(facts)
    window = 900.0
    now = time.time()
    old_at = datetime.fromtimestamp(now - window - SKEW_S - 60, UTC)
    new_at = datetime.fromtimestamp(now, UTC)
    for k in range(0, 3000, 100):  # past SWEEP_EVERY additions
        facts.add([_alert(i, old_at) for i in range(k, k + 100)])
        groups._groups[k] = ((k,), Group(k, (_facts(k, old_at.timestamp()),)))
        groups.forget_before(now - window - SKEW_S)
    facts.add([_alert(10_000 + i, new_at) for i in range(facts.SWEEP_EVERY)])
    groups._groups[10_000] = ((10_000,), Group(10_000, (_facts(10_000, now),)))
    groups.forget_before(now - window - SKEW_S)
    assert len(facts) == facts.SWEEP_EVERY  # only the young ones stay
    assert list(groups._groups) == [10_000]
    assert len(facts) <= FactsCache.MAX and len(groups) <= GroupCache.MAX


def test_disk_channel_cache_stays_at_its_size() -> None:
    city = load_city(DEMO_CITY_PATH)
    routing._disk_channels.cache_clear()
    s, w, n, e = city.bounds
    seen: set[str] = set()
    lat = s
    while len(seen) < routing.DISK_CACHE_SIZE + 200 and lat < n:
        lon = w
        while lon < e and len(seen) < routing.DISK_CACHE_SIZE + 200:
            cell = h3.latlng_to_cell(lat, lon, 10)
            if cell not in seen:
                seen.add(cell)
                routing.alert_channels(lat, lon, None, 500.0, city)
            lon += 0.0015
        lat += 0.0012
    assert len(seen) > routing.DISK_CACHE_SIZE
    assert routing._disk_channels.cache_info().currsize == routing.DISK_CACHE_SIZE


def test_pure_memo_caches_have_a_size() -> None:
    # bounded by the city's cells as well; a None maxsize would be unbounded
    for fn, size in (
        (routing._disk_channels, 4096),
        (grouping._disk, 1 << 14),
        (cells._geometry, 1 << 16),
    ):
        assert fn.cache_info().maxsize == size, fn
    grouping._disk.cache_clear()
    base = h3.latlng_to_cell(43.1837, 3.0042, 5)
    for child in list(h3.cell_to_children(base, 11))[: (1 << 14) + 100]:
        grouping._disk(child)
    assert grouping._disk.cache_info().currsize == 1 << 14


def test_memory_limits_drop_expired_keys() -> None:
    clock = [0.0]
    limits = MemoryLimits(clock=lambda: clock[0])

    async def fill() -> None:
        for i in range(3 * SWEEP_EVERY):
            clock[0] += 1.0
            await limits.bump(f"k{i}", 10.0)  # each lives 10 s of this clock

    asyncio.run(fill())
    # at most what lived since the last sweep, plus the live ones
    assert len(limits._entries) <= SWEEP_EVERY + 10


def test_quota_takes_leave_in_pipelines_of_at_most_pipeline_max() -> None:
    require("Redis", "127.0.0.1", 6379)
    limits = RedisLimits(REDIS_URL, "t" + uuid.uuid4().hex[:10])
    sizes: list[int] = []
    send = limits._pipeline_takes

    async def counted(batch: Any) -> None:
        sizes.append(len(batch))
        await send(batch)

    limits._pipeline_takes = counted  # type: ignore[method-assign]

    async def burst() -> list[bool]:
        await limits.connect()
        try:
            taken = await asyncio.gather(
                *(limits.take("burst", f"m{i}", 300, 60) for i in range(2 * PIPELINE_MAX + 100))
            )
            await limits.forget(["burst"])
        finally:
            await limits.close()
        return [t.allowed for t in taken]

    allowed = asyncio.run(burst())
    assert allowed == [True] * 300 + [False] * (2 * PIPELINE_MAX + 100 - 300)  # in call order, across pipelines
    assert sum(sizes) == 2 * PIPELINE_MAX + 100 and max(sizes) == PIPELINE_MAX


def test_session_cache_keeps_at_most_its_size(tmp_path: Path) -> None:
    asyncio.run(_sessions(tmp_path))


async def _sessions(tmp_path: Path) -> None:
    from dispatch.adapters import open_bus, open_store
    from dispatch.core.model import NewUser
    from dispatch.live.sequencer import Sequencer
    from dispatch.usecases.login_guard import LoginGuard, LoginPolicy
    from dispatch.usecases.sessions import Sessions, token_hash

    store = open_store(f"sqlite:///{tmp_path / 'b.sqlite3'}")
    await store.connect()
    try:
        await store.migrate()
        bus = open_bus("memory://", "bounds")
        seq = Sequencer(store, bus, lambda channel, event: None)
        sessions = Sessions(store, 1.0, seq, LoginGuard(MemoryLimits(), LoginPolicy()))
        sessions.CACHE_SIZE = 5
        ids = await store.add_users([NewUser("resident", f"b{i}@example.org", "x") for i in range(12)])
        expires = datetime.now(UTC) + timedelta(hours=1)
        for i, uid in enumerate(ids):
            await store.add_session(token_hash(f"tok-{i}"), uid, expires)
        for i in range(len(ids)):
            found: Any = await sessions.session_for(f"tok-{i}")
            assert found is not None
            assert len(sessions._cache) <= 5
        assert len(sessions._cache) == 5
    finally:
        await store.close()


def test_hub_encodes_at_most_64_events_ahead() -> None:
    from dispatch.core.model import Event
    from dispatch.live.hub import RESIDENT_MESSAGES, Hub

    hub = Hub(500.0)
    assert "alert.removed" in RESIDENT_MESSAGES
    now = datetime.now(UTC)
    for seq in range(1, 300):
        hub._resident_item(Event(seq, "alert.removed", {"id": seq}, now, {}))
        assert len(hub._encoded) <= 64
    assert len(hub._encoded) == 64


def test_web_push_keeps_at_most_jwt_cache_signatures(tmp_path: Path) -> None:
    from dispatch.adapters import web_push

    async def run() -> None:
        vapid = web_push.load_or_create_key(tmp_path / "vapid.pem")
        sender = web_push.WebPushSender(vapid, "mailto:x@example.org", None)  # type: ignore[arg-type]
        try:
            for i in range(web_push.JWT_CACHE * 2):
                sender._authorization(f"https://push{i}.example.org/send/abc")
                assert len(sender._jwts) <= web_push.JWT_CACHE
            assert len(sender._jwts) == web_push.JWT_CACHE
        finally:
            await sender.http.aclose()

    asyncio.run(run())
