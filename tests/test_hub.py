"""dispatch/hub.py: how the hub writes to its connections. An alert after a
quiet spell is written at once; the events of a burst are written together,
one write per connection per loop iteration, in seq order, each exactly once;
a connection past its bound is closed at the write, the others unaffected.
The sink here records writes (the real sinks are exercised end to end by
test_fanout_e2e, test_faults_e2e and test_asgi_fallback)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import orjson

from dispatch.core.model import Event
from dispatch.core.routing import OPS
from dispatch.live.hub import COALESCE_WITHIN_S, Hub


class Recorder:
    def __init__(self, limit: int = 1 << 30) -> None:
        self.writes: list[bytes] = []
        self.limit = limit
        self.size = 0
        self.closed = False

    def write(self, frame: bytes, payload: bytes) -> bool:
        return self.write_many([(frame, payload)])

    def write_many(self, items: list[tuple[bytes, bytes]]) -> bool:
        if self.closed:
            return False
        data = b"".join(frame for frame, _ in items)
        self.writes.append(data)
        self.size += len(data)
        return self.size <= self.limit

    def gone(self) -> bool:
        return self.closed

    def close_slow(self) -> None:
        self.closed = True

    def close(self, code: int, reason: str) -> None:
        self.closed = True

    def seqs(self) -> list[int]:
        """Parse the written bytes back into frames (RFC 6455, server text frames)."""
        out, buf = [], b"".join(self.writes)
        while buf:
            assert buf[0] == 0x81, "a complete, unfragmented text frame"
            n, head = buf[1] & 0x7F, 2
            if n == 126:
                n, head = int.from_bytes(buf[2:4], "big"), 4
            elif n == 127:
                n, head = int.from_bytes(buf[2:10], "big"), 10
            out.append(orjson.loads(buf[head : head + n])["seq"])
            buf = buf[head + n :]
        return out


def event(seq: int) -> Event:
    return Event(seq, "alert.created", {"id": seq, "text": "x" * 40}, datetime.now(UTC), {OPS: seq - 1})


def live_ops(hub: Hub, n: int, limit: int = 1 << 30) -> list[Recorder]:
    sinks = [Recorder(limit) for _ in range(n)]
    for s in sinks:
        hub.go_live(hub.attach_ops(s, 0))
    return sinks


async def quiet() -> None:
    await asyncio.sleep(COALESCE_WITHIN_S * 3)


async def test_an_alert_after_a_quiet_spell_is_written_at_once() -> None:
    hub = Hub(500.0)
    sinks = live_ops(hub, 3)
    await quiet()
    hub.deliver(OPS, event(1))
    assert [s.seqs() for s in sinks] == [[1]] * 3  # before any await: no wait at all
    await quiet()
    hub.deliver(OPS, event(2))
    assert [s.seqs() for s in sinks] == [[1, 2]] * 3


async def test_a_burst_is_one_write_per_connection_in_seq_order() -> None:
    now = [1.0]  # a stopped clock: the whole burst falls within COALESCE_WITHIN_S
    hub = Hub(500.0, clock=lambda: now[0])
    sinks = live_ops(hub, 50)
    hub.deliver(OPS, event(1))
    for seq in range(2, 21):  # what one group commit delivers, right after
        hub.deliver(OPS, event(seq))
    assert all(len(s.writes) == 1 for s in sinks)  # queued until the iteration ends
    await asyncio.sleep(0)
    for s in sinks:
        assert len(s.writes) == 2
        assert s.seqs() == list(range(1, 21))
    assert hub.delivered == 20 * 50


async def test_each_event_once_even_if_offered_twice() -> None:
    hub = Hub(500.0)
    sinks = live_ops(hub, 2)
    for seq in (1, 2, 2, 1, 3):
        hub.deliver(OPS, event(seq))
    await asyncio.sleep(0)
    assert [s.seqs() for s in sinks] == [[1, 2, 3]] * 2


async def test_replay_then_live_has_no_gap_and_no_duplicate() -> None:
    hub = Hub(500.0)
    sink = Recorder()
    conn = hub.attach_ops(sink, 0)  # replaying: live events wait
    for seq in (1, 2, 3):
        hub.deliver(OPS, event(seq))
    assert sink.writes == []
    conn.last_seq = 2  # the replay sent up to 2
    hub.go_live(conn)
    hub.deliver(OPS, event(4))
    await asyncio.sleep(0)
    assert sink.seqs() == [3, 4]


async def test_a_connection_past_its_bound_is_closed_and_the_others_get_everything() -> None:
    hub = Hub(500.0)
    ok = live_ops(hub, 3)
    slow = live_ops(hub, 1, limit=300)[0]
    await quiet()
    for seq in range(1, 11):
        hub.deliver(OPS, event(seq))
    await asyncio.sleep(0)
    assert slow.closed and hub.dropped_slow == 1
    assert hub.connections() == 3
    hub.deliver(OPS, event(11))
    await asyncio.sleep(0)
    assert all(s.seqs() == list(range(1, 12)) for s in ok)
    assert 11 not in slow.seqs()


async def test_a_socket_closing_already_is_let_go_not_counted_slow() -> None:
    """At SIGTERM uvicorn sends 1012 to every socket before the endpoints
    detach them; an alert committed meanwhile must not count them as
    laggards (issue 21: slow-client closes are a metric)."""
    hub = Hub(500.0)
    ok, closing = live_ops(hub, 2)
    await quiet()
    closing.close(1012, "service restart")
    hub.deliver(OPS, event(1))
    await asyncio.sleep(0)
    assert hub.dropped_slow == 0 and hub.connections() == 1
    assert ok.seqs() == [1] and closing.seqs() == []
