"""Live connections of one worker: who listens, and what each must get.

Each event is encoded once per audience shape (ops, resident) and the same
frame bytes are written to every member of that audience. Resident
connections are indexed by home cell and sector (core.audience.HomeIndex), so
an event's audience is found without scanning every connection."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from dispatch.core.audience import Home, HomeIndex
from dispatch.core.codec import message, text_frame
from dispatch.core.events import OPS_TYPES, RESIDENT_MESSAGES, resident_view
from dispatch.core.model import Event
from dispatch.core.routing import OPS, home_channel

log = logging.getLogger("dispatch.hub")


class Sink(Protocol):
    def write(self, frame: bytes, payload: bytes) -> bool: ...
    def close_slow(self) -> None: ...


class Conn:
    """One WebSocket. While `pending` is a list the connection is replaying
    from the store and live messages wait there, so the seam between replay
    and live has no gap and no duplicate (seq dedup)."""

    __slots__ = ("__weakref__", "alive", "channel", "home", "last_seq", "pending", "sink")

    def __init__(self, sink: Sink, home: Home | None, channel: str, last_seq: int) -> None:
        self.sink = sink
        self.home = home
        self.channel = channel
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
        # one index per resident channel (coarse home cell, core.routing):
        # an event arriving on a channel is for that channel's members only,
        # so each resident gets it exactly once, in its channel's order
        self.residents: dict[str, HomeIndex[Conn]] = {}
        self.by_user: dict[int, set[Conn]] = {}
        self.dropped_slow = 0
        self.delivered = 0
        self._encoded: dict[tuple[int, str], tuple[bytes, bytes]] = {}
        self.on_empty: Callable[[str], None] = lambda channel: None

    # membership -----------------------------------------------------------
    def attach_ops(self, sink: Sink, last_seq: int) -> Conn:
        conn = Conn(sink, None, OPS, last_seq)
        self.ops.add(conn)
        return conn

    def attach_resident(self, sink: Sink, home: Home, last_seq: int) -> Conn:
        channel = home_channel(home.lat, home.lon)
        conn = Conn(sink, home, channel, last_seq)
        index = self.residents.get(channel)
        if index is None:
            index = self.residents[channel] = HomeIndex()
        index.add(conn, home.lat, home.lon, home.sector)
        self.by_user.setdefault(home.user_id, set()).add(conn)
        return conn

    def detach(self, conn: Conn) -> None:
        if not conn.alive:
            return
        conn.alive = False
        if conn.home is None:
            self.ops.discard(conn)
            if not self.ops:
                self.on_empty(OPS)
            return
        index = self.residents.get(conn.channel)
        if index is not None:
            index.remove(conn)
            if not len(index):
                del self.residents[conn.channel]
                self.on_empty(conn.channel)
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
        return len(self.ops) + sum(len(i) for i in self.residents.values())

    # delivery -------------------------------------------------------------
    def deliver(self, channel: str, event: Event) -> None:
        if channel == OPS:
            if self.ops and event.type in OPS_TYPES:
                payload = message(event.type, event.seq, event.data)
                self._send(self.ops, event.seq, payload, text_frame(payload))
            return
        index = self.residents.get(channel)
        if index is None or event.type not in RESIDENT_MESSAGES:
            return
        audience = self.resident_audience(index, event.type, event.data)
        if audience:
            self._send(audience, event.seq, *self._resident_bytes(event))

    def _resident_bytes(self, event: Event) -> tuple[bytes, bytes]:
        """Encode once per event, however many channels it arrives on."""
        key = (event.seq, event.type)
        hit = self._encoded.get(key)
        if hit is None:
            payload = message(RESIDENT_MESSAGES[event.type], event.seq, resident_view(event.type, event.data))
            hit = self._encoded[key] = (payload, text_frame(payload))
            if len(self._encoded) > 64:
                del self._encoded[next(iter(self._encoded))]
        return hit

    def resident_audience(self, index: HomeIndex[Conn], event_type: str, data: dict[str, Any]) -> Iterable[Conn]:
        if event_type == "alert.created":
            return index.alert_audience(data["lat"], data["lon"], data["sector"], self.radius_m)
        if event_type == "broadcast.sent":
            return index.broadcast_audience(data)
        if event_type == "alert.status":
            return self.by_user.get(data["author"], ())
        return ()

    def _send(self, conns: Iterable[Conn], seq: int, payload: bytes, frame: bytes) -> None:
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
