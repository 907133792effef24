"""dispatch/live/sequencer.py on its own, without sockets: the sans-I/O way
python-websockets tests its protocol core. The Store and the Bus are
in-memory fakes answering exactly as ports.Store and ports.Bus document
(the event log part of the store; a bus whose messages the test puts on a
queue by hand, so it can drop, reorder, duplicate or "reconnect"), and
deliver() is a recorder.

What is checked: each joined channel gets its events in seq order, exactly
once, whichever road brings them (own commits, the bus, the store on a gap,
the head poll for a lost tail, a reconnect). Every wait is on a condition
with a bound; where a test must not be rescued by another road (the poll,
the gap fill), that road is given a delay far beyond the test's length."""

from __future__ import annotations

import asyncio
import gc
import random
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dispatch.core.model import Event
from dispatch.live import sequencer as sequencer_module
from dispatch.live.sequencer import Sequencer, decode_event, encode_event

TIMEOUT = 1.0  # bound for anything that should take milliseconds
NEVER = 60.0  # a gap_wait / poll_every that no test lives to see
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


# fakes ------------------------------------------------------------------------
class FakeStore:
    """The event log of ports.Store in memory. Seqs are gapless and each
    event's links name, per channel, the seq of that channel's previous
    event (0 for the first), as the adapters write them in the commit.

    Every read suspends once, as a round trip would (`yields`). With `gate`
    set, events_after takes its result first, as a statement snapshot does,
    then waits on the gate before answering: a read in flight. With
    `heads_gate` set, channel_heads waits on it before it reads: the head
    poll held back until the test lets it look."""

    def __init__(self, calls: list[tuple[Any, ...]] | None = None, yields: bool = True) -> None:
        self.events: list[Event] = []
        self.heads: dict[str, int] = {}
        self.calls = calls if calls is not None else []
        self.yields = yields
        self.gate: asyncio.Event | None = None
        self.heads_gate: asyncio.Event | None = None
        self.heads_fail = 0  # how many head checks fail next
        self.reading = 0

    def commit(self, *channels: str) -> Event:
        seq = len(self.events) + 1
        links = {c: self._head(c) for c in channels}
        event = Event(seq, "alert.created", {"id": seq, "text": f"alert {seq}"}, T0 + timedelta(seconds=seq), links)
        self.events.append(event)
        self.heads.update(dict.fromkeys(channels, seq))
        return event

    def on(self, channel: str) -> list[int]:
        """Every seq published on `channel`: what a listener must get."""
        return [e.seq for e in self.events if channel in e.links]

    def _head(self, channel: str) -> int:
        return self.heads.get(channel, 0)

    async def _round_trip(self) -> None:
        if self.yields:
            await asyncio.sleep(0)

    async def events_after(self, seq: int, limit: int = 1000, channel: str | None = None) -> list[Event]:
        """Events with seq > `seq`, ascending, at most `limit`; only those
        published on `channel` when given."""
        self.calls.append(("events_after", seq, channel))
        out = [e for e in self.events if e.seq > seq and (channel is None or channel in e.links)][:limit]
        await self._round_trip()
        if self.gate is not None:
            self.reading += 1
            try:
                await self.gate.wait()
            finally:
                self.reading -= 1
        return out

    async def channel_heads(self, channels: Sequence[str]) -> dict[str, int]:
        """The seq of each channel's latest event (0 when none)."""
        if self.heads_gate is not None:
            await self.heads_gate.wait()
        self.calls.append(("channel_heads", tuple(channels)))
        await self._round_trip()
        if self.heads_fail:
            self.heads_fail -= 1
            raise ConnectionError("store unreachable")
        return {c: self._head(c) for c in channels}

    async def channel_head(self, channel: str) -> int:
        self.calls.append(("channel_head", channel))
        await self._round_trip()
        return self._head(channel)

    async def head_seq(self) -> int:
        """The highest committed seq (0 when empty)."""
        await self._round_trip()
        return len(self.events)


class FakeBus:
    """ports.Bus with the network replaced by a queue the test fills:
    `send` is another worker's publish arriving, and what the test does not
    send is lost. It does not filter by subscription, so what the sequencer
    ignores it ignores on its own. `echo` hands our own publish_batch back
    to us, as Redis pub/sub does to a subscriber of its own channels."""

    def __init__(
        self, calls: list[tuple[Any, ...]] | None = None, shared: bool = True, echo: bool = False, yields: bool = True
    ) -> None:
        self.shared = shared
        self.echo = echo
        self.yields = yields
        self.calls = calls if calls is not None else []
        self.queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self.subscribed: set[str] = set()
        self.batches: list[list[tuple[list[str], bytes]]] = []
        self.fail_publish = False
        self.publish_delay = 0.0
        self._reconnect: list[Callable[[], None]] = []

    # the test's side
    def send(self, event: Event, *channels: str) -> None:
        """The bus brings `event` on `channels` (default: all its channels)."""
        for channel in channels or event.links:
            self.queue.put_nowait((channel, encode_event(event)))

    def send_raw(self, channel: str, raw: bytes) -> None:
        self.queue.put_nowait((channel, raw))

    def reconnect(self) -> None:
        """The link came back after an outage: tell the consumers."""
        for callback in list(self._reconnect):
            callback()

    async def drained(self) -> None:
        """Every message sent so far has been handed out and processed: the
        consumer has come back for the next one (offer() is synchronous)."""
        await asyncio.wait_for(self.queue.join(), TIMEOUT)

    # the Bus port
    async def connect(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def ping(self) -> None:
        pass

    async def publish(self, channel: str, message: bytes) -> None:
        await self.publish_batch([([channel], message)])

    async def publish_many(self, channels: Sequence[str], message: bytes) -> None:
        await self.publish_batch([(channels, message)])

    async def publish_batch(self, batch: Sequence[tuple[Sequence[str], bytes]]) -> None:
        """Recorded once the round trip (`publish_delay`) is over."""
        if self.publish_delay:
            await asyncio.sleep(self.publish_delay)
        elif self.yields:
            await asyncio.sleep(0)
        self.batches.append([(list(channels), message) for channels, message in batch])
        if self.fail_publish:
            raise ConnectionError("bus down")
        if self.echo:
            for channels, message in batch:
                for channel in channels:
                    self.queue.put_nowait((channel, message))

    async def subscribe(self, channel: str) -> None:
        self.calls.append(("subscribe", channel))
        if self.yields:
            await asyncio.sleep(0)
        self.subscribed.add(channel)

    async def unsubscribe(self, channel: str) -> None:
        self.calls.append(("unsubscribe", channel))
        if self.yields:
            await asyncio.sleep(0)
        self.subscribed.discard(channel)

    def messages(self) -> AsyncIterator[tuple[str, bytes]]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[tuple[str, bytes]]:
        while True:
            item = await self.queue.get()
            try:
                yield item
            finally:
                self.queue.task_done()

    def on_reconnect(self, callback: Callable[[], None]) -> None:
        self._reconnect.append(callback)


class Delivered:
    """The deliver(channel, event) callback: records what the hub would get."""

    def __init__(self) -> None:
        self.items: list[tuple[str, Event]] = []

    def __call__(self, channel: str, event: Event) -> None:
        self.items.append((channel, event))

    def seqs(self, channel: str) -> list[int]:
        return [e.seq for c, e in self.items if c == channel]


# helpers ----------------------------------------------------------------------
async def until(cond: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not cond():
                await asyncio.sleep(0.001)
    except TimeoutError:
        raise AssertionError(f"not within {timeout}s: {what}") from None


async def settled(seq: Sequencer, bus: FakeBus) -> None:
    """Nothing left in flight: the bus queue is processed and no store catch
    up is pending or running, so what is delivered now is all there will be."""
    await bus.drained()
    await until(
        lambda: all(c.filling is None or c.filling.done() for c in seq.channels.values()) and bus.queue.empty(),
        "no catch-up pending",
    )
    await bus.drained()


@asynccontextmanager
async def running(
    store: FakeStore,
    bus: FakeBus,
    channels: Iterable[str] = (),
    *,
    gap_wait: float = NEVER,
    poll_every: float = NEVER,
    deliver: Callable[[str, Event], None] | None = None,
) -> AsyncIterator[tuple[Sequencer, Delivered]]:
    got = Delivered()
    seq = Sequencer(store, bus, deliver or got, gap_wait=gap_wait, poll_every=poll_every)  # type: ignore[arg-type]
    await seq.start()
    try:
        for channel in channels:
            await seq.join(channel)
        yield seq, got
    finally:
        await seq.stop()


def reads(store: FakeStore) -> list[tuple[Any, ...]]:
    return [c for c in store.calls if c[0] == "events_after"]


# the bus alone ----------------------------------------------------------------
async def test_events_in_order_on_the_bus_are_delivered_once_each_per_channel() -> None:
    store, bus = FakeStore(), FakeBus()
    async with running(store, bus, ["a", "b"]) as (seq, got):
        events = [
            store.commit("a", "b"),
            store.commit("a"),
            store.commit("b"),
            store.commit("c"),  # a channel this worker has not joined
            store.commit("a", "b", "c"),
            store.commit("a"),
        ]
        for e in events:
            bus.send(e)
        await settled(seq, bus)

        assert got.seqs("a") == [1, 2, 5, 6]
        assert got.seqs("b") == [1, 3, 5]
        assert got.seqs("c") == []
        assert (seq.watermark("a"), seq.watermark("b"), seq.watermark("c")) == (6, 5, 0)
        assert reads(store) == [] and seq.filled_from_store == 0  # no gap, no store read
        # what is delivered is the event as committed (the wire keeps milliseconds)
        first = next(e for c, e in got.items if c == "a")
        assert (first.type, first.data, first.links, first.created_at) == (
            events[0].type,
            events[0].data,
            events[0].links,
            events[0].created_at,
        )


async def test_an_undecodable_bus_message_is_skipped_and_the_stream_goes_on() -> None:
    store, bus = FakeStore(), FakeBus()
    async with running(store, bus, ["a"]) as (seq, got):
        e1, e2 = store.commit("a"), store.commit("a")
        bus.send(e1)
        bus.send_raw("a", b"{not json")
        bus.send(e2)
        await settled(seq, bus)
        assert got.seqs("a") == [1, 2]


async def test_a_deliver_that_raises_does_not_stop_the_channel() -> None:
    store, bus = FakeStore(), FakeBus()
    got = Delivered()

    def deliver(channel: str, event: Event) -> None:
        got(channel, event)
        if event.seq == 1:
            raise RuntimeError("a hub bug")

    async with running(store, bus, ["a"], deliver=deliver) as (seq, _):
        for _ in range(3):
            bus.send(store.commit("a"))
        await settled(seq, bus)
        assert got.seqs("a") == [1, 2, 3]


# gaps -------------------------------------------------------------------------
async def test_a_gap_is_held_until_the_missing_event_comes_on_the_bus() -> None:
    store, bus = FakeStore(), FakeBus()
    async with running(store, bus, ["a"], gap_wait=NEVER) as (seq, got):
        e1, e2, e3 = store.commit("a"), store.commit("a"), store.commit("a")
        bus.send(e1)
        bus.send(e3)  # links say 2 came before: hold it
        await bus.drained()
        assert got.seqs("a") == [1]
        assert seq.watermark("a") == 1

        bus.send(e2)  # within gap_wait: the bus fills the gap, no store read
        await bus.drained()
        assert got.seqs("a") == [1, 2, 3]
        assert reads(store) == []

        bus.send(e3)  # a late copy
        bus.send(e2)
        await bus.drained()
        assert got.seqs("a") == [1, 2, 3]


async def test_a_gap_is_read_from_the_store_after_gap_wait_without_duplicates() -> None:
    store, bus = FakeStore(), FakeBus()
    async with running(store, bus, ["a"], gap_wait=0.01) as (seq, got):
        e1, e2, e3, e4 = (store.commit("a") for _ in range(4))
        bus.send(e1)
        bus.send(e4)  # 2 and 3 are lost on the bus
        await until(lambda: len(got.seqs("a")) >= 4, "the gap filled from the store")
        await settled(seq, bus)
        # 4 came by both roads (held from the bus, and read from the store): once
        assert got.seqs("a") == [1, 2, 3, 4]
        assert reads(store) == [("events_after", 1, "a")]  # one read, from what was delivered

        bus.send(e2)  # the lost ones turn up late
        bus.send(e3)
        await settled(seq, bus)
        assert got.seqs("a") == [1, 2, 3, 4]


async def test_a_gap_on_one_channel_does_not_hold_back_another() -> None:
    store, bus = FakeStore(), FakeBus()
    async with running(store, bus, ["a", "b"], gap_wait=NEVER) as (seq, got):
        e1 = store.commit("a")
        e2 = store.commit("a", "b")  # first on b, second on a
        bus.send(e2)
        await bus.drained()
        assert got.seqs("b") == [2]
        assert got.seqs("a") == []

        bus.send(e1)
        await bus.drained()
        assert got.seqs("a") == [1, 2]
        assert got.seqs("b") == [2]


async def test_a_gap_seen_during_a_store_read_is_read_again_after_it() -> None:
    store, bus = FakeStore(), FakeBus()
    async with running(store, bus, ["a"], gap_wait=0.005, poll_every=NEVER) as (seq, got):
        store.commit("a")
        e2 = store.commit("a")
        store.gate = asyncio.Event()
        bus.send(e2)  # 1 lost: read from the store after gap_wait
        await until(lambda: store.reading == 1, "the gap read in flight")
        store.commit("a")  # after the read's snapshot, and lost on the bus
        bus.send(store.commit("a"))  # 4 shows the gap at 3 while the read is in flight
        await bus.drained()
        store.gate.set()
        await until(lambda: got.seqs("a") == [1, 2, 3, 4], "the second gap read after the first read")
        await settled(seq, bus)
        assert got.seqs("a") == [1, 2, 3, 4]
        assert reads(store) == [("events_after", 0, "a"), ("events_after", 2, "a")]


@pytest.mark.parametrize("seed", range(4))
async def test_order_and_exactly_once_survive_loss_reordering_and_copies(seed: int) -> None:
    rng = random.Random(seed)
    names = ["a", "b", "c"]
    store, bus = FakeStore(), FakeBus()
    async with running(store, bus, names, gap_wait=0.005, poll_every=0.02) as (seq, got):
        events = [store.commit(*rng.sample(names, rng.randint(1, 3))) for _ in range(150)]
        wire = [(c, e) for e in events for c in e.links if rng.random() > 0.2]  # a fifth lost
        wire += [rng.choice(wire) for _ in range(len(wire) // 10)]  # some arrive twice
        wire.sort(key=lambda item: item[1].seq + rng.uniform(-4, 4))  # out of order, locally
        for channel, e in wire:
            bus.send(e, channel)
        await until(lambda: all(len(got.seqs(n)) >= len(store.on(n)) for n in names), "every event delivered")
        await settled(seq, bus)
        for n in names:
            assert got.seqs(n) == store.on(n), n


# the lost tail ----------------------------------------------------------------
async def test_a_lost_tail_is_found_by_the_head_poll() -> None:
    store, bus = FakeStore(), FakeBus()
    store.heads_gate = asyncio.Event()  # the poll looks only once the bus is processed
    async with running(store, bus, ["a", "b"], gap_wait=NEVER, poll_every=0.02) as (seq, got):
        e1, e2, _ = store.commit("a"), store.commit("a", "b"), store.commit("a")
        bus.send(e1)
        bus.send(e2)  # 3, the last of a, never comes: no later event shows the gap
        await bus.drained()
        assert got.seqs("a") == [1, 2]
        assert reads(store) == []
        store.heads_gate.set()
        await until(lambda: got.seqs("a") == [1, 2, 3], "the tail read from the store")
        await settled(seq, bus)
        assert got.seqs("a") == [1, 2, 3]
        assert got.seqs("b") == [2]
        assert reads(store) == [("events_after", 2, "a")]  # b was up to date: not read
        assert seq.filled_from_store == 1


async def test_a_failed_head_check_is_tried_again_at_the_next_poll() -> None:
    store, bus = FakeStore(), FakeBus()
    store.heads_fail = 2
    async with running(store, bus, ["a"], gap_wait=NEVER, poll_every=0.005) as (seq, got):
        store.commit("a")  # lost on the bus
        await until(lambda: got.seqs("a") == [1], "the tail read once the store answers")
        assert [c[0] for c in store.calls].count("channel_heads") >= 3


# joining ----------------------------------------------------------------------
async def test_joining_mid_stream_starts_at_the_channel_head() -> None:
    store, bus = FakeStore(), FakeBus()
    async with running(store, bus, gap_wait=0.01, poll_every=0.01) as (seq, got):
        old = [store.commit("a") for _ in range(5)]
        store.commit("b")
        assert seq.watermark("a") == 0  # not joined

        assert await seq.join("a") == 5
        assert seq.watermark("a") == 5
        for e in old[2:]:  # late bus copies of what is already in the store
            bus.send(e)
        n = len(store.calls)
        await until(lambda: ("channel_heads", ("a",)) in store.calls[n:], "a head poll after the join")
        await settled(seq, bus)
        assert got.items == []  # nothing up to the watermark comes live
        assert seq.watermark("a") == 5

        e7 = store.commit("a")
        assert e7.links == {"a": 5}
        bus.send(e7)
        await settled(seq, bus)
        assert got.seqs("a") == [7]
        assert seq.watermark("a") == 7
        assert await seq.join("a") == 7  # joined already: its watermark, no new subscription
        assert [c for c in bus.calls if c[0] == "subscribe"] == [("subscribe", "a")]


async def test_join_subscribes_before_reading_the_head_and_once_for_concurrent_joins() -> None:
    calls: list[tuple[Any, ...]] = []
    store, bus = FakeStore(calls), FakeBus(calls)
    async with running(store, bus) as (seq, got):
        store.commit("a")
        store.commit("a")
        assert await asyncio.gather(seq.join("a"), seq.join("a"), seq.join("empty")) == [2, 2, 0]
        # an event committed between the two would be caught by the subscription
        assert calls.index(("subscribe", "a")) < calls.index(("channel_head", "a"))
        assert calls.count(("subscribe", "a")) == 1
        assert calls.count(("channel_head", "a")) == 1

        bus.send(store.commit("empty"))  # a channel joined before its first event
        await settled(seq, bus)
        assert got.seqs("empty") == [3]


async def test_a_join_that_fails_leaves_no_subscription_behind() -> None:
    store, bus = FakeStore(), FakeBus()

    async def unreachable(channel: str) -> int:
        raise ConnectionError("store unreachable")

    store.channel_head = unreachable  # type: ignore[method-assign]
    async with running(store, bus) as (seq, got):
        with pytest.raises(ConnectionError):
            await seq.join("a")
        # join()'s future holds the exception no one retrieved, in a cycle
        # with its traceback: free it now (asyncio logs it), not while pytest
        # parses source for the report (CPython 3.11.7 then raises SystemError)
        gc.collect()
        assert seq.watermark("a") == 0
        assert bus.subscribed == set()


# the bus drops, then reconnects -----------------------------------------------
async def test_a_reconnect_catches_up_from_the_store_without_gap_or_duplicate() -> None:
    store, bus = FakeStore(), FakeBus()
    async with running(store, bus, ["a", "b"], gap_wait=NEVER, poll_every=NEVER) as (seq, got):
        for e in (store.commit("a"), store.commit("a", "b")):
            bus.send(e)
        await bus.drained()
        outage = [store.commit("a"), store.commit("b"), store.commit("a", "b")]  # all lost
        await bus.drained()
        assert got.seqs("a") == [1, 2]

        bus.reconnect()
        await until(lambda: got.seqs("a") == [1, 2, 3, 5] and got.seqs("b") == [2, 4, 5], "caught up")
        bus.send(outage[-1])  # the outage's last message arrives after all
        bus.send(store.commit("a", "b"))
        await settled(seq, bus)
        assert got.seqs("a") == [1, 2, 3, 5, 6]
        assert got.seqs("b") == [2, 4, 5, 6]
        assert sorted(reads(store)) == [("events_after", 2, "a"), ("events_after", 2, "b")]


async def test_a_reconnect_after_a_long_outage_reads_every_page() -> None:
    store, bus = FakeStore(), FakeBus()
    async with running(store, bus, ["a"], gap_wait=NEVER, poll_every=NEVER) as (seq, got):
        for _ in range(2500):  # more than one store page (1000) lost on the bus
            store.commit("a")
        bus.reconnect()
        await until(lambda: len(got.seqs("a")) >= 2500, "all pages read")
        await settled(seq, bus)
        assert got.seqs("a") == list(range(1, 2501))
        assert reads(store) == [("events_after", s, "a") for s in (0, 1000, 2000)]


async def test_a_reconnect_during_a_store_read_still_catches_up() -> None:
    store, bus = FakeStore(), FakeBus()
    async with running(store, bus, ["a"], gap_wait=0.005, poll_every=NEVER) as (seq, got):
        store.commit("a")
        e2 = store.commit("a")
        store.gate = asyncio.Event()
        bus.send(e2)  # 1 lost: a gap, read from the store after gap_wait
        await until(lambda: store.reading == 1, "the gap read in flight")
        store.commit("a")  # committed after the read's snapshot; lost on the bus
        bus.reconnect()
        store.gate.set()
        await until(lambda: got.seqs("a") == [1, 2, 3], "caught up after the reconnect", timeout=0.2)


# own commits ------------------------------------------------------------------
async def test_own_commits_are_delivered_at_once_and_sent_in_one_batch() -> None:
    store, bus = FakeStore(), FakeBus(shared=True, echo=True)
    async with running(store, bus, ["a", "b"]) as (seq, got):
        e1, e2, e3 = store.commit("a", "b"), store.commit("a"), store.commit("b")
        await seq.publish(e1)
        assert got.seqs("a") == [1] and got.seqs("b") == [1]  # before the bus is even asked
        assert bus.batches == []
        await seq.publish(e2)
        await seq.publish(e3)
        await seq.flush()
        # queued while no send ran: one round trip, each event on its channels
        assert bus.batches == [[(["a", "b"], encode_event(e1)), (["a"], encode_event(e2)), (["b"], encode_event(e3))]]
        assert decode_event(bus.batches[0][0][1]).links == e1.links
        await settled(seq, bus)  # the bus echoes our own messages back: no duplicate
        assert got.seqs("a") == [1, 2]
        assert got.seqs("b") == [1, 3]


async def test_own_commits_on_an_unshared_bus_are_not_sent() -> None:
    store, bus = FakeStore(), FakeBus(shared=False)
    async with running(store, bus, ["a"]) as (seq, got):
        for _ in range(3):
            await seq.publish(store.commit("a"))
        assert got.seqs("a") == [1, 2, 3]
        await seq.flush()
        await settled(seq, bus)
        assert bus.batches == []


async def test_own_commit_waits_for_an_earlier_event_of_another_worker() -> None:
    store, bus = FakeStore(), FakeBus()
    async with running(store, bus, ["a"], gap_wait=NEVER) as (seq, got):
        theirs = store.commit("a")  # another worker's, not here yet
        ours = store.commit("a")
        await seq.publish(ours)
        assert got.seqs("a") == []
        bus.send(theirs)
        await bus.drained()
        assert got.seqs("a") == [1, 2]


async def test_a_failed_bus_publish_keeps_local_delivery_and_later_sends() -> None:
    store, bus = FakeStore(), FakeBus()
    async with running(store, bus, ["a"]) as (seq, got):
        bus.fail_publish = True
        e1 = store.commit("a")
        await seq.publish(e1)
        await seq.flush()  # does not raise: the store has it
        bus.fail_publish = False
        e2 = store.commit("a")
        await seq.publish(e2)
        await seq.flush()
        assert got.seqs("a") == [1, 2]
        assert bus.batches == [[(["a"], encode_event(e1))], [(["a"], encode_event(e2))]]


async def test_stop_hands_what_is_queued_to_the_bus() -> None:
    store, bus = FakeStore(), FakeBus()
    bus.publish_delay = 0.05  # a slow round trip: stop() waits for it
    async with running(store, bus, ["a"]) as (seq, got):
        e1 = store.commit("a")
        await seq.publish(e1)
    assert bus.batches == [[(["a"], encode_event(e1))]]


# leaving ----------------------------------------------------------------------
async def test_leave_later_unsubscribes_after_the_linger(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sequencer_module, "LINGER_S", 0.02)
    store, bus = FakeStore(), FakeBus()
    async with running(store, bus, ["a"]) as (seq, got):
        bus.send(store.commit("a"))
        await bus.drained()
        seq.leave_later("a")
        seq.leave_later("a")  # once is enough
        seq.leave_later("never-joined")
        assert seq.watermark("a") == 1  # still listening during the linger
        await until(lambda: ("unsubscribe", "a") in bus.calls, "unsubscribed")
        assert seq.watermark("a") == 0
        bus.send(store.commit("a"))  # a message still in flight
        await settled(seq, bus)
        assert got.seqs("a") == [1]
        assert [c for c in bus.calls if c[0] == "unsubscribe"] == [("unsubscribe", "a")]

        assert await seq.join("a") == 2  # back: from the head again, nothing replayed live
        bus.send(store.commit("a"))
        await settled(seq, bus)
        assert got.seqs("a") == [1, 3]


async def test_joining_again_within_the_linger_keeps_the_subscription(monkeypatch: pytest.MonkeyPatch) -> None:
    store, bus = FakeStore(), FakeBus()
    async with running(store, bus, ["a", "b"]) as (seq, got):
        bus.send(store.commit("a"))
        await bus.drained()
        monkeypatch.setattr(sequencer_module, "LINGER_S", 0.01)
        seq.leave_later("a")
        assert await seq.join("a") == 1  # the listener came back
        monkeypatch.setattr(sequencer_module, "LINGER_S", 0.03)
        seq.leave_later("b")  # b's linger ends after a's would have
        await until(lambda: ("unsubscribe", "b") in bus.calls, "b unsubscribed")
        assert ("unsubscribe", "a") not in bus.calls
        bus.send(store.commit("a"))
        await settled(seq, bus)
        assert got.seqs("a") == [1, 2]


@pytest.mark.parametrize("yields", [True, False], ids=["join-suspends", "join-in-one-step"])
async def test_a_join_that_races_the_unsubscribe_wins(yields: bool) -> None:
    store, bus = FakeStore(yields=yields), FakeBus(yields=yields)
    async with running(store, bus, ["a", "b"]) as (seq, got):
        seq._leave("a")  # the linger timer fires ...
        assert await seq.join("a") == 0  # ... and a listener joins before the unsubscribe ran
        seq._leave("b")  # its unsubscribe task runs after a's
        await until(lambda: ("unsubscribe", "b") in bus.calls, "b unsubscribed")
        assert ("unsubscribe", "a") not in bus.calls
        assert "a" in bus.subscribed
        bus.send(store.commit("a"))
        await settled(seq, bus)
        assert got.seqs("a") == [1]
