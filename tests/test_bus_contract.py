"""One contract suite for both Bus adapters, plus Redis fault tests on a
throwaway redis-server (tests/redis_server.py).

Every wait is bounded: a broken adapter fails a test, it never hangs the suite."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
import redis.asyncio
from redis.exceptions import ConnectionError as RedisConnectionError
from redis_server import RedisServer  # tests/ is on sys.path (rootdir conftest)

from dispatch.adapters import open_bus
from dispatch.adapters.bus_redis import RedisBus
from dispatch.ports.bus import Bus

TIMEOUT = 5.0  # generous bound for anything that should take milliseconds

MakeBus = Callable[[], Awaitable[Bus]]


async def publish(bus: Bus, channel: str, message: bytes) -> None:
    """One message on one channel, through the port's publish_batch."""
    await bus.publish_batch([((channel,), message)])


async def take(it: AsyncIterator[tuple[str, bytes]], n: int = 1) -> list[tuple[str, bytes]]:
    async def _take() -> list[tuple[str, bytes]]:
        return [await anext(it) for _ in range(n)]

    return await asyncio.wait_for(_take(), TIMEOUT)


@pytest.fixture(params=["memory", "redis"])
def bus_url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    return str(request.getfixturevalue("redis_url"))


@pytest.fixture
async def make_bus(bus_url: str, bus_prefix: str) -> AsyncIterator[MakeBus]:
    """Connected buses through open_bus(), all closed after the test."""
    buses: list[Bus] = []

    async def make() -> Bus:
        bus = open_bus(bus_url, prefix=bus_prefix)
        await asyncio.wait_for(bus.connect(), TIMEOUT)
        buses.append(bus)
        return bus

    yield make
    for bus in buses:
        await asyncio.wait_for(bus.close(), TIMEOUT)


# the contract


async def test_roundtrip_keeps_channel_and_bytes(make_bus: MakeBus) -> None:
    bus = await make_bus()
    await asyncio.wait_for(bus.ping(), TIMEOUT)
    channel = "secteur:Île-de-la-Cité/42"
    payloads = [
        b"",
        b"\x00\xff\xfe\x80\xc3\x28 not UTF-8 \r\n*1\r\n",
        bytes(range(256)),
        b"x" * 200_000,
    ]
    await bus.subscribe(channel)
    it = bus.messages()
    for payload in payloads:
        await publish(bus, channel, payload)
    got = await take(it, len(payloads))
    assert got == [(channel, p) for p in payloads]
    assert all(type(c) is str and type(m) is bytes for c, m in got)


async def test_unsubscribed_channel_is_not_received(make_bus: MakeBus) -> None:
    bus = await make_bus()
    it = bus.messages()
    await bus.subscribe("a")
    await publish(bus, "b", b"not for us")
    await publish(bus, "a", b"marker")  # arrives after "b" would have: proves it did not
    assert await take(it) == [("a", b"marker")]


async def test_one_message_reaches_each_subscribed_channel(make_bus: MakeBus) -> None:
    bus = await make_bus()
    it = bus.messages()
    await bus.subscribe("c:1")
    await bus.subscribe("ops")
    await bus.publish_batch([(["ops", "c:1", "c:unheard"], b"event")])
    await publish(bus, "ops", b"marker")
    got = await take(it, 3)
    assert sorted(got[:2]) == [("c:1", b"event"), ("ops", b"event")] and got[2] == ("ops", b"marker")


async def test_publish_batch_keeps_order_per_channel(make_bus: MakeBus) -> None:
    bus = await make_bus()
    it = bus.messages()
    await bus.subscribe("x")
    await bus.publish_batch([(["x", "y"], b"1"), (["x"], b"2"), (["y"], b"3"), (["x"], b"4")])
    assert await take(it, 3) == [("x", b"1"), ("x", b"2"), ("x", b"4")]


async def test_publish_batch_keeps_every_byte(make_bus: MakeBus) -> None:
    bus = await make_bus()
    it = bus.messages()
    await bus.subscribe("c:é")
    text = [b"", b'{"text": "Fum\xc3\xa9e \\ "rue" \xf0\x9f\x94\xa5\n\\u00e9"}', "\u2028\x00\x7f".encode()]
    binary = [b"\x00\xff\xfe\x80\xc3\x28 not UTF-8", bytes(range(256))]
    for batch in (text, binary + text):
        await bus.publish_batch([(["c:é", "ops"], m) for m in batch])
        assert await take(it, len(batch)) == [("c:é", m) for m in batch]


async def test_order_is_preserved_for_1000_messages(make_bus: MakeBus) -> None:
    bus = await make_bus()
    await bus.subscribe("order")
    it = bus.messages()
    for i in range(1000):
        await publish(bus, "order", i.to_bytes(4, "big"))
    got = await take(it, 1000)
    assert {c for c, _ in got} == {"order"}
    assert [int.from_bytes(m, "big") for _, m in got] == list(range(1000))


async def test_two_workers_see_each_others_publishes(make_bus: MakeBus, bus_url: str) -> None:
    if bus_url.startswith("memory:"):
        pytest.skip("a MemoryBus is one worker by design: nothing leaves the process")
    a, b = await make_bus(), await make_bus()
    for bus in (a, b):
        await bus.subscribe("feed")
    ia, ib = a.messages(), b.messages()
    await publish(a, "feed", b"from a")
    await publish(b, "feed", b"from b")
    expected = [("feed", b"from a"), ("feed", b"from b")]
    assert await take(ia, 2) == expected
    assert await take(ib, 2) == expected


async def test_unsubscribe_stops_delivery(make_bus: MakeBus) -> None:
    bus = await make_bus()
    it = bus.messages()
    await bus.subscribe("a")
    await bus.subscribe("a")  # set semantics: twice is once
    await bus.subscribe("b")
    await publish(bus, "a", b"1")
    assert await take(it) == [("a", b"1")]

    await publish(bus, "a", b"queued, never read")
    await bus.unsubscribe("a")  # one unsubscribe undoes both subscribes
    await bus.unsubscribe("never-subscribed")  # harmless
    await publish(bus, "a", b"2")
    await publish(bus, "b", b"marker")
    assert await take(it) == [("b", b"marker")]

    await bus.subscribe("a")
    await publish(bus, "a", b"3")
    assert await take(it) == [("a", b"3")]


async def test_close_is_clean(make_bus: MakeBus) -> None:
    before = asyncio.all_tasks()
    bus = await make_bus()
    await bus.subscribe("a")
    got: list[tuple[str, bytes]] = []

    async def consume() -> None:
        async for item in bus.messages():
            got.append(item)

    consumer = asyncio.create_task(consume())
    await publish(bus, "a", b"x")
    async with asyncio.timeout(TIMEOUT):
        while not got:
            await asyncio.sleep(0.001)

    await asyncio.wait_for(bus.close(), TIMEOUT)
    await asyncio.wait_for(consumer, TIMEOUT)  # messages() ends when the bus closes
    await asyncio.wait_for(bus.close(), TIMEOUT)  # idempotent
    await asyncio.wait_for(publish(bus, "a", b"late"), TIMEOUT)  # dropped, not raised
    assert got == [("a", b"x")]
    # No task of the bus left behind ("Task was destroyed but it is pending").
    leftover = [t for t in asyncio.all_tasks() - before if not t.done()]
    assert leftover == []


async def test_redis_channels_are_prefixed_on_the_wire(redis_url: str, bus_prefix: str) -> None:
    raw = redis.asyncio.Redis.from_url(redis_url)
    pubsub = raw.pubsub()
    mine, other = RedisBus(redis_url, bus_prefix), RedisBus(redis_url, bus_prefix + "x")
    try:
        await mine.connect()
        await other.connect()
        await pubsub.subscribe(f"{bus_prefix}:alerts")
        await asyncio.wait_for(pubsub.get_message(timeout=TIMEOUT), TIMEOUT)  # the confirmation
        await other.subscribe("alerts")
        it = other.messages()

        await publish(mine, "alerts", b"hello")
        msg = await asyncio.wait_for(pubsub.get_message(ignore_subscribe_messages=True, timeout=TIMEOUT), TIMEOUT)
        assert msg is not None and (msg["channel"], msg["data"]) == (f"{bus_prefix}:alerts".encode(), b"hello")

        await publish(other, "alerts", b"own prefix")  # another prefix is another deployment
        assert await take(it) == [("alerts", b"own prefix")]
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await raw.aclose()
        await mine.close()
        await other.close()


def test_open_bus_rejects_unknown_scheme_without_leaking_the_url() -> None:
    with pytest.raises(ValueError, match="'amqp'") as caught:
        open_bus("amqp://user:s3cret@host/")
    assert "s3cret" not in str(caught.value)


# faults, on a throwaway server (never the shared one)


@pytest.fixture
def redis_server(port: int) -> Iterator[RedisServer]:
    try:
        server = RedisServer(port)
    except FileNotFoundError as exc:
        if os.environ.get("CI", "").lower() == "true":  # conftest's rule: in CI, missing is failing
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    with server:
        yield server


class Reconnects:
    """An on_reconnect callback that counts and can be awaited."""

    def __init__(self) -> None:
        self.count = 0
        self.event = asyncio.Event()

    def __call__(self) -> None:
        self.count += 1
        self.event.set()

    async def wait(self) -> None:
        await asyncio.wait_for(self.event.wait(), TIMEOUT)
        self.event.clear()


async def test_redis_restart_drops_then_recovers(
    redis_server: RedisServer, bus_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dispatch.adapters.bus_redis")
    bus = RedisBus(redis_server.url, bus_prefix)
    reconnects = Reconnects()
    bus.on_reconnect(reconnects)
    await asyncio.wait_for(bus.connect(), TIMEOUT)
    try:
        await bus.subscribe("alerts")
        it = bus.messages()
        await publish(bus, "alerts", b"before")
        assert await take(it) == [("alerts", b"before")]
        assert reconnects.count == 0  # the first connect is not a reconnect

        await asyncio.to_thread(redis_server.stop)
        outage_started = time.monotonic()
        for i in range(5):
            started = time.monotonic()
            await asyncio.wait_for(publish(bus, "alerts", b"lost %d" % i), TIMEOUT)
            assert time.monotonic() - started < 1.0
        # Refused connections fail in microseconds: all five must, with no retry loop.
        assert time.monotonic() - outage_started < 1.0
        assert bus.dropped == 5
        with pytest.raises(RedisConnectionError):
            await asyncio.wait_for(bus.ping(), TIMEOUT)
        await asyncio.sleep(0.5)  # let the reader fail a few reconnect attempts

        await asyncio.to_thread(redis_server.start)
        await reconnects.wait()
        assert reconnects.count == 1
        # on_reconnect fired after re-subscribing: a publish now must arrive.
        await publish(bus, "alerts", b"after")
        assert await take(it) == [("alerts", b"after")]
        assert bus.dropped == 5  # the stale publish connection was replaced, not a drop
        await asyncio.wait_for(bus.ping(), TIMEOUT)
    finally:
        await asyncio.wait_for(bus.close(), TIMEOUT)

    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    # One warning per outage for each link, not one per message or attempt.
    assert len([w for w in warnings if "publish" in w]) == 1, warnings
    assert len([w for w in warnings if "subscriber link lost" in w]) == 1, warnings


async def test_redis_connection_reset_resubscribes(redis_server: RedisServer, bus_prefix: str) -> None:
    bus = RedisBus(redis_server.url, bus_prefix)
    reconnects = Reconnects()
    bus.on_reconnect(reconnects)
    admin = redis.asyncio.Redis.from_url(redis_server.url)
    await asyncio.wait_for(bus.connect(), TIMEOUT)
    try:
        await bus.subscribe("a")
        await bus.subscribe("b")
        it = bus.messages()
        killed = await admin.client_kill_filter(_type="pubsub")
        assert killed == 1
        await reconnects.wait()
        await publish(bus, "a", b"1")
        await publish(bus, "b", b"2")
        assert await take(it, 2) == [("a", b"1"), ("b", b"2")]
    finally:
        await admin.aclose()
        await asyncio.wait_for(bus.close(), TIMEOUT)


async def test_redis_hung_server_is_detected(redis_server: RedisServer, bus_prefix: str) -> None:
    # A hung server (or a silent network) sends no RST: only the reader's
    # PING health check notices. A short interval keeps the test quick.
    bus = RedisBus(redis_server.url, bus_prefix, health_interval=0.2)
    reconnects = Reconnects()
    bus.on_reconnect(reconnects)
    await asyncio.wait_for(bus.connect(), TIMEOUT)
    try:
        await bus.subscribe("a")
        it = bus.messages()
        redis_server.pause()
        try:
            started = time.monotonic()
            await asyncio.wait_for(publish(bus, "a", b"lost"), TIMEOUT)
            assert time.monotonic() - started < 1.5  # bounded by the socket timeouts
            assert bus.dropped == 1
            await asyncio.sleep(0.6)  # > 2 health intervals: the reader gives the link up
        finally:
            redis_server.resume()
        await reconnects.wait()
        await publish(bus, "a", b"back")
        assert await take(it) == [("a", b"back")]
    finally:
        await asyncio.wait_for(bus.close(), TIMEOUT)


async def test_redis_subscribe_returns_only_once_redis_confirms(redis_server: RedisServer, bus_prefix: str) -> None:
    # Otherwise "subscribe, then catch up from the store" could miss an event
    # published between the catch-up and Redis processing the SUBSCRIBE.
    bus = RedisBus(redis_server.url, bus_prefix)
    await asyncio.wait_for(bus.connect(), TIMEOUT)
    try:
        it = bus.messages()
        redis_server.pause()
        try:
            subscribing = asyncio.create_task(bus.subscribe("a"))
            await asyncio.sleep(0.2)
            assert not subscribing.done()
        finally:
            redis_server.resume()
        await asyncio.wait_for(subscribing, TIMEOUT)
        await publish(bus, "a", b"1")
        assert await take(it) == [("a", b"1")]
    finally:
        await asyncio.wait_for(bus.close(), TIMEOUT)
