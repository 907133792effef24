"""Live connections of one worker: who listens, and what each must get.

Each event is encoded once per audience shape (ops, resident) and the same
frame bytes are written to every member of that audience. Resident
connections are indexed by home cell and sector (core.audience.HomeIndex), so
an event's audience is found without scanning every connection."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, Protocol

from dispatch.core.audience import Home, HomeIndex
from dispatch.core.codec import message, text_frame
from dispatch.core.events import OPS_TYPES, RESIDENT_MESSAGES, resident_view
from dispatch.core.model import Event

log = logging.getLogger("dispatch.hub")


class Sink(Protocol):
    def write(self, frame: bytes, payload: bytes) -> bool: ...
    def close_slow(self) -> None: ...


class Conn:
    """One WebSocket. While `pending` is a list the connection is replaying
    from the store and live messages wait there, so the seam between replay
    and live has no gap and no duplicate (seq dedup)."""

    __slots__ = ("sink", "home", "last_seq", "pending", "alive", "__weakref__")

    def __init__(self, sink: Sink, home: Home | None, last_seq: int) -> None:
        self.sink = sink
        self.home = home
        self.last_seq = last_seq
        self.pending: list[tuple[int, bytes, bytes]] | None = []
        self.alive = True

    def push(self, seq: int, frame: bytes, payload: bytes) -> bool:
        """False if the connection must be dropped."""
        if seq <= self.last_seq:
            return True
        if self.pending is not None:
            self.pending.append((seq, frame, payload))
            return True
        self.last_seq = seq
        return self.sink.write(frame, payload)


class Hub:
    def __init__(self, radius_m: float) -> None:
        self.radius_m = radius_m
        self.ops: set[Conn] = set()
        self.residents: HomeIndex[Conn] = HomeIndex()
        self.by_user: dict[int, set[Conn]] = {}
        self.dropped_slow = 0
        self.delivered = 0

    # membership -----------------------------------------------------------
    def attach_ops(self, sink: Sink, last_seq: int) -> Conn:
        conn = Conn(sink, None, last_seq)
        self.ops.add(conn)
        return conn

    def attach_resident(self, sink: Sink, home: Home, last_seq: int) -> Conn:
        conn = Conn(sink, home, last_seq)
        self.residents.add(conn, home.lat, home.lon, home.sector)
        self.by_user.setdefault(home.user_id, set()).add(conn)
        return conn

    def detach(self, conn: Conn) -> None:
        conn.alive = False
        if conn.home is None:
            self.ops.discard(conn)
            return
        self.residents.remove(conn)
        mine = self.by_user.get(conn.home.user_id)
        if mine is not None:
            mine.discard(conn)
            if not mine:
                del self.by_user[conn.home.user_id]

    def go_live(self, conn: Conn) -> None:
        """End of replay: flush what arrived meanwhile, in order."""
        pending, conn.pending = conn.pending or [], None
        for seq, frame, payload in pending:
            if not conn.push(seq, frame, payload):
                self._drop(conn)
                return

    def connections(self) -> int:
        return len(self.ops) + len(self.residents)

    # delivery -------------------------------------------------------------
    def deliver(self, event: Event) -> None:
        if self.ops and event.type in OPS_TYPES:
            self._send(self.ops, event.seq, message(event.type, event.seq, event.data))
        msg_type = RESIDENT_MESSAGES.get(event.type)
        if msg_type is None or not len(self.residents):
            return
        audience = self.resident_audience(event.type, event.data)
        if audience:
            payload = message(msg_type, event.seq, resident_view(event.type, event.data))
            self._send(audience, event.seq, payload)

    def resident_audience(self, event_type: str, data: dict[str, Any]) -> Iterable[Conn]:
        if event_type == "alert.created":
            return self.residents.alert_audience(data["lat"], data["lon"], data["sector"], self.radius_m)
        if event_type == "broadcast.sent":
            return self.residents.broadcast_audience(data)
        if event_type == "alert.status":
            return self.by_user.get(data["author"], ())
        return ()

    def _send(self, conns: Iterable[Conn], seq: int, payload: bytes) -> None:
        frame = text_frame(payload)
        slow: list[Conn] = []
        n = 0
        for conn in conns:
            n += 1
            if not conn.push(seq, frame, payload):
                slow.append(conn)
        self.delivered += n
        for conn in slow:
            self._drop(conn)

    def _drop(self, conn: Conn) -> None:
        if conn.alive:
            self.dropped_slow += 1
            log.info("closing a connection past its send bound")
            self.detach(conn)
            conn.sink.close_slow()
