"""One contract for both Limits adapters (dispatch/ports/limits.py): the
in-process one and Redis, on a real Redis under a prefix of its own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from dispatch.adapters import open_limits
from dispatch.adapters.limits_memory import MemoryLimits
from dispatch.adapters.limits_redis import RedisLimits
from dispatch.ports.limits import Count, Limits
from tests.conftest import REDIS_URL, require


@pytest.fixture(params=["memory", "redis"])
async def limits(request: pytest.FixtureRequest) -> AsyncIterator[Limits]:
    if request.param == "redis":
        require("Redis", "127.0.0.1", 6379)
        lim: Limits = RedisLimits(REDIS_URL, "t" + uuid.uuid4().hex[:10])
    else:
        lim = MemoryLimits()
    await lim.connect()
    yield lim
    await lim.close()


def test_the_bus_url_chooses_the_adapter() -> None:
    assert isinstance(open_limits("memory://"), MemoryLimits)
    assert isinstance(open_limits("redis://127.0.0.1:6379/0", "p"), RedisLimits)
    assert open_limits("redis://127.0.0.1:6379/0").shared and not open_limits("memory://").shared


async def test_bump_counts_within_a_fixed_window(limits: Limits) -> None:
    assert await limits.read(["a"]) == [Count(0, 0.0)]
    first = await limits.bump("a", 0.4)
    assert first.value == 1 and 0.2 < first.ttl_s <= 0.401
    await asyncio.sleep(0.1)
    second = await limits.bump("a", 0.4)
    assert second.value == 2 and second.ttl_s < first.ttl_s  # the first bump started the clock
    (seen,) = await limits.read(["a"])
    assert seen.value == 2
    await asyncio.sleep(0.4)
    assert await limits.read(["a"]) == [Count(0, 0.0)]
    assert (await limits.bump("a", 0.4)).value == 1


async def test_hold_and_forget(limits: Limits) -> None:
    await limits.hold("lock", 0.3)
    await limits.bump("n", 10)
    locked, n, absent = await limits.read(["lock", "n", "absent"])
    assert locked.value == 1 and 0.1 < locked.ttl_s <= 0.301
    assert n.value == 1 and absent == Count(0, 0.0)
    await limits.forget(["n", "absent"])
    assert (await limits.read(["n"]))[0].value == 0
    await asyncio.sleep(0.35)
    assert (await limits.read(["lock"]))[0].value == 0


async def test_take_counts_distinct_members_up_to_the_limit(limits: Limits) -> None:
    assert all([(await limits.take("q", f"m{i}", 3, 0.5)).allowed for i in range(3)])
    refused = await limits.take("q", "m3", 3, 0.5)
    assert not refused.allowed and 0.2 < refused.retry_after_s <= 0.501
    # a member already taken is a retry: allowed, and it did not count again
    assert (await limits.take("q", "m1", 3, 0.5)).allowed
    assert (await limits.read(["q"]))[0].value == 3
    # the refused one was not counted: it is refused again, not waved through as a retry
    assert not (await limits.take("q", "m3", 3, 0.5)).allowed
    await asyncio.sleep(0.55)
    assert (await limits.take("q", "m3", 3, 0.5)).allowed
    assert not (await limits.take("z", "m", 0, 1)).allowed


async def test_concurrent_takes_count_like_takes_one_after_another(limits: Limits) -> None:
    # Redis sends the takes that queue together as one pipeline: each still
    # counts alone, in call order, and a member repeated in one batch is a retry
    members = [f"m{i % 8}" for i in range(12)] + ["late"]
    taken = await asyncio.gather(*(limits.take("c", m, 5, 5) for m in members))
    assert [t.allowed for t in taken] == [True] * 5 + [False] * 3 + [True] * 4 + [False]
    assert (await limits.read(["c"]))[0].value == 5
    others = await asyncio.gather(*(limits.take(f"k{i}", "m", 1, 5) for i in range(40)))
    assert all(t.allowed for t in others)


async def test_keys_are_independent(limits: Limits) -> None:
    await limits.bump("x", 5)
    await limits.bump("x", 5)
    await limits.take("y", "m", 5, 5)
    x, y, z = await limits.read(["x", "y", "z"])
    assert (x.value, y.value, z.value) == (2, 1, 0)


async def test_redis_adapters_share_their_counters() -> None:
    require("Redis", "127.0.0.1", 6379)
    prefix = "t" + uuid.uuid4().hex[:10]
    a, b = RedisLimits(REDIS_URL, prefix), RedisLimits(REDIS_URL, prefix)
    await a.connect()
    await b.connect()
    try:
        await a.bump("k", 5)
        assert (await b.bump("k", 5)).value == 2
        assert (await a.take("q", "m", 1, 5)).allowed
        assert not (await b.take("q", "other", 1, 5)).allowed
    finally:
        await a.forget(["k", "q"])
        await a.close()
        await b.close()


async def test_redis_down_falls_back_to_this_process() -> None:
    # connected once, then Redis went away: nothing listens on port 1
    lim = RedisLimits("redis://127.0.0.1:1/0", "t")
    lim._redis = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    try:
        assert (await lim.bump("k", 5)).value == 1
        assert (await lim.bump("k", 5)).value == 2
        assert (await lim.take("q", "m", 1, 5)).allowed
        assert not (await lim.take("q", "n", 1, 5)).allowed
        together = await asyncio.gather(*(lim.take("p", f"m{i}", 2, 5) for i in range(4)))
        assert [t.allowed for t in together] == [True, True, False, False]
    finally:
        await lim.close()
