"""Live connections of one worker: who listens, and what each must get.

Each event is encoded once per audience shape (ops, resident) and the same
frame bytes are written to every member of that audience. Resident
connections are indexed by home cell and sector (core.audience.HomeIndex), so
an event's audience is found without scanning every connection."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Protocol

from dispatch.core.audience import HomeIndex, resident_audience
from dispatch.core.codec import Frame, Item, Payload, message, text_frame
from dispatch.core.events import OPS_TYPES, RESIDENT_MESSAGES, resident_view
from dispatch.core.model import Event, Home
from dispatch.core.routing import CONTROL, OPS, home_channel
from dispatch.telemetry import metrics

log = logging.getLogger("dispatch.live.hub")


# Events closer together than this are written together (Hub._schedule).
COALESCE_WITHIN_S = 0.005


class Sink(Protocol):
    def write(self, frame: Frame, payload: Payload) -> bool: ...
    def write_many(self, items: list[Item]) -> bool: ...
    def gone(self) -> bool: ...
    async def drained(self) -> bool: ...
    def close_slow(self) -> None: ...
    def close(self, code: int, reason: str) -> None: ...


class Conn:
    """One WebSocket. While `pending` is a list the connection is replaying
    from the store and live messages wait there, so the seam between replay
    and live has no gap and no duplicate (seq dedup). `out` holds what this
    loop iteration has for it, written in one go by Hub.flush."""

    __slots__ = ("__weakref__", "alive", "channel", "home", "last_seq", "out", "pending", "session", "sink", "user_id")

    def __init__(
        self, sink: Sink, home: Home | None, channel: str, last_seq: int, user_id: int, session: str | None
    ) -> None:
        self.sink = sink
        self.user_id = user_id
        self.session = session  # the hash of the token it was opened with
        self.home = home
        self.channel = channel
        self.last_seq = last_seq
        self.pending: list[tuple[int, Item]] | None = []
        self.out: list[Item] | None = None
        self.alive = True


class Hub:
    def __init__(self, radius_m: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.radius_m = radius_m
        # injected so that tests decide what "a quiet spell" is, instead of
        # hoping a loaded CI machine runs 20 deliveries within 5 ms
        self.clock = clock
        self.ops: set[Conn] = set()
        # one index per resident channel (coarse home cell, core.routing):
        # an event arriving on a channel is for that channel's members only,
        # so each resident gets it exactly once, in its channel's order
        self.residents: dict[str, HomeIndex[Conn]] = {}
        self.by_user: dict[int, set[Conn]] = {}  # residents' connections, for alert.status
        self.accounts: dict[int, set[Conn]] = {}  # every connection by account, to end them
        self.dropped_slow = 0
        self.delivered = 0
        self._encoded: dict[tuple[int, str], Item] = {}
        # broadcast id -> the resident accounts whose socket on this worker it
        # was written to: the "app" receipt (usecases.delivery stores it)
        self.app_reached: dict[int, set[int]] = {}
        self.on_empty: Callable[[str], None] = lambda channel: None
        # (user id, token hash or None): the session cache must forget them
        self.on_session_ended: Callable[[int, str | None], None] = lambda user, token: None
        # connections with frames waiting for this iteration's flush
        self._dirty: list[Conn] = []
        self._flush_handle: asyncio.Handle | None = None
        self.last_write = 0.0
        self._direct_seq = 0  # the event being written at once, on all its channels

    # membership -----------------------------------------------------------
    def attach_ops(self, sink: Sink, last_seq: int, user_id: int = 0, session: str | None = None) -> Conn:
        conn = Conn(sink, None, OPS, last_seq, user_id, session)
        self.ops.add(conn)
        metrics.client_opened(resident=False)
        self.accounts.setdefault(user_id, set()).add(conn)
        return conn

    def attach_resident(self, sink: Sink, home: Home, last_seq: int, session: str | None = None) -> Conn:
        channel = home_channel(home.lat, home.lon, home.sector)
        conn = Conn(sink, home, channel, last_seq, home.user_id, session)
        self.accounts.setdefault(home.user_id, set()).add(conn)
        index = self.residents.get(channel)
        if index is None:
            index = self.residents[channel] = HomeIndex()
        index.add(conn, home.lat, home.lon, home.sector)
        self.by_user.setdefault(home.user_id, set()).add(conn)
        metrics.client_opened(resident=True)
        return conn

    def detach(self, conn: Conn) -> None:
        if not conn.alive:
            return
        conn.alive = False
        metrics.client_closed(resident=conn.home is not None)
        mine = self.accounts.get(conn.user_id)
        if mine is not None:
            mine.discard(conn)
            if not mine:
                del self.accounts[conn.user_id]
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
        """End of replay: send what arrived meanwhile, in order."""
        pending, conn.pending = conn.pending or [], None
        for seq, item in pending:
            if seq > conn.last_seq:
                conn.last_seq = seq
                self._queue(conn, item)
                metrics.delivered_late(conn.home is not None)

    def connections(self) -> int:
        return len(self.ops) + sum(len(i) for i in self.residents.values())

    def close_account(self, user_id: int, session: str | None, code: int) -> int:
        """Close the account's sockets (only those opened with `session` when
        given) with `code`; how many."""
        conns = [c for c in self.accounts.get(user_id, ()) if session is None or c.session == session]
        for conn in conns:
            self.detach(conn)
            conn.sink.close(code, "session ended")
        return len(conns)

    # delivery -------------------------------------------------------------
    def deliver(self, channel: str, event: Event) -> None:
        if channel == CONTROL:
            if event.type == "session.ended":
                data = event.data
                self.on_session_ended(data["user"], data["token"])
                self.close_account(data["user"], data["token"], data["code"])
            elif event.type == "account.changed":  # a new status: read it at the next request
                self.on_session_ended(event.data["user"], None)
            return
        if channel == OPS:
            if self.ops and event.type in OPS_TYPES:
                payload = message(event.type, event.seq, event.data)
                metrics.delivered(
                    "ops", self._send(self.ops, event.seq, (text_frame(payload), payload)), event.created_at
                )
            return
        index = self.residents.get(channel)
        if index is None or event.type not in RESIDENT_MESSAGES:
            return
        audience = resident_audience(index, self.by_user, event.type, event.data, self.radius_m)
        if audience:
            if event.type == "broadcast.sent":
                self.app_reached.setdefault(event.data["id"], set()).update(c.user_id for c in audience)
            metrics.delivered("resident", self._send(audience, event.seq, self._resident_item(event)), event.created_at)

    def _resident_item(self, event: Event) -> Item:
        """Encode once per event, however many channels it arrives on."""
        key = (event.seq, event.type)
        hit = self._encoded.get(key)
        if hit is None:
            payload = message(RESIDENT_MESSAGES[event.type], event.seq, resident_view(event.type, event.data))
            hit = self._encoded[key] = (text_frame(payload), payload)
            if len(self._encoded) > 64:
                del self._encoded[next(iter(self._encoded))]
        return hit

    def _send(self, conns: Iterable[Conn], seq: int, item: Item) -> int:
        """One message to its audience; to how many sockets it went now.

        After a quiet spell (nothing written for COALESCE_WITHIN_S) an event
        is written at once, one prebuilt frame per connection, on every
        channel it arrives on. In a burst it is queued: the events committed
        together (a group-committed batch, a burst read from the bus) reach
        the hub in one loop iteration, and Hub.flush writes each connection's
        share with one transport write -- one syscall and one TCP segment for
        several frames. Nothing waits for more: the flush runs once this
        iteration's callbacks have run. Deferring costs nothing in itself,
        but whatever else the iteration runs first (a response, a garbage
        collection) then sits between the commit and the write: only worth
        it when it saves writes. (No frame is queued while no flush is
        pending, so the two ways never reorder a connection's frames.)"""
        direct = self._flush_handle is None and (
            seq == self._direct_seq or self.clock() - self.last_write >= COALESCE_WITHIN_S
        )
        frame, payload = item
        dirty = self._dirty
        slow: list[Conn] = []
        n = sent = 0
        for conn in conns:
            n += 1
            if seq <= conn.last_seq:
                continue
            if conn.pending is not None:
                conn.pending.append((seq, item))
                continue
            conn.last_seq = seq
            sent += 1
            if direct:
                if not conn.sink.write(frame, payload):
                    slow.append(conn)
            elif conn.out is None:
                conn.out = [item]
                dirty.append(conn)
            else:
                conn.out.append(item)
        self.delivered += n
        if direct:
            self._direct_seq = seq
            for conn in slow:
                self.drop_slow(conn)
            self.last_write = self.clock()
        elif dirty:
            self._schedule()
        return sent

    def _queue(self, conn: Conn, item: Item) -> None:
        if conn.out is None:
            conn.out = [item]
            self._dirty.append(conn)
        else:
            conn.out.append(item)
        self._schedule()

    def _schedule(self) -> None:
        """Flush now after a quiet spell, else at the end of this iteration."""
        if self._flush_handle is not None:
            return
        if self.clock() - self.last_write >= COALESCE_WITHIN_S:
            self.flush()
        else:
            self._flush_handle = asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Write every connection's queued frames; close those past their bound."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        dirty, self._dirty = self._dirty, []
        slow: list[Conn] = []
        for conn in dirty:
            out, conn.out = conn.out, None
            if out and conn.alive and not conn.sink.write_many(out):
                slow.append(conn)
        for conn in slow:
            self.drop_slow(conn)
        self.last_write = self.clock()

    def drop_slow(self, conn: Conn) -> None:
        """A write refused: the socket is past its bound, or already closing
        (shutdown sends 1012 before the endpoint detaches it): only the
        first is a slow client."""
        if conn.alive and conn.sink.gone():
            self.detach(conn)
        elif conn.alive:
            self.dropped_slow += 1
            metrics.slow_close(resident=conn.home is not None)
            log.info("closing a connection past its send bound")
            self.detach(conn)
            conn.sink.close_slow()
