"""Delivers the global event log to this worker's hub in seq order, exactly once.

Events reach a worker by three roads: its own commits (the fast path, no
round trip), the bus (other workers' commits; lossy), and the store (the
truth). The store's seqs are gapless and commit-ordered (ports.Store), so a
gap means "missing", never "skipped": after a short wait for the bus, the
missing range is read from the store. A periodic check of the store head
catches an event lost at the tail, when no later event reveals the gap."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

import orjson

from dispatch.core.model import Event, iso
from dispatch.ports import Bus, Store

log = logging.getLogger("dispatch.sequencer")

CHANNEL = "events"


def encode_event(event: Event) -> bytes:
    return orjson.dumps(
        {"seq": event.seq, "type": event.type, "data": event.data, "created_at": iso(event.created_at)}
    )


def decode_event(raw: bytes) -> Event:
    obj = orjson.loads(raw)
    created = datetime.fromisoformat(obj["created_at"].replace("Z", "+00:00"))
    return Event(int(obj["seq"]), obj["type"], obj["data"], created)


class Sequencer:
    def __init__(
        self,
        store: Store,
        bus: Bus,
        deliver: Callable[[Event], None],
        gap_wait: float = 0.02,
        poll_every: float = 1.0,
    ) -> None:
        self.store = store
        self.bus = bus
        self.deliver = deliver
        self.gap_wait = gap_wait
        self.poll_every = poll_every
        self.last = 0
        self._held: dict[int, Event] = {}
        self._filling: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.filled_from_store = 0

    async def start(self) -> None:
        await self.bus.subscribe(CHANNEL)
        self.bus.on_reconnect(self._on_reconnect)
        self.last = await self.store.head_seq()
        self._tasks = [
            asyncio.create_task(self._read_bus(), name="sequencer-bus"),
            asyncio.create_task(self._poll(), name="sequencer-poll"),
        ]

    async def stop(self) -> None:
        for task in [*self._tasks, self._filling]:
            if task is not None:
                task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass

    async def publish(self, event: Event) -> None:
        """Called after a commit on this worker."""
        self.offer(event)
        try:
            await self.bus.publish(CHANNEL, encode_event(event))
        except Exception:  # the store has it; other workers catch up from there
            log.warning("bus publish failed; other workers will catch up from the store")

    def offer(self, event: Event) -> None:
        seq = event.seq
        if seq <= self.last:
            return
        if seq != self.last + 1:
            self._held[seq] = event
            self._schedule_fill(self.gap_wait)
            return
        self._emit(event)
        held = self._held
        while held:
            nxt = held.pop(self.last + 1, None)
            if nxt is None:
                break
            self._emit(nxt)

    def _emit(self, event: Event) -> None:
        self.last = event.seq
        try:
            self.deliver(event)
        except Exception:
            log.exception("delivering event %s failed", event.seq)

    def _schedule_fill(self, delay: float) -> None:
        if self._filling is None or self._filling.done():
            self._filling = asyncio.get_running_loop().create_task(self._fill(delay))

    async def _fill(self, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        retry = False
        try:
            while True:
                events = await self.store.events_after(self.last, limit=1000)
                for event in events:
                    self.filled_from_store += 1
                    self.offer(event)
                if len(events) < 1000:
                    break
        except Exception:
            log.warning("catching up from the store failed; retrying")
            retry = True
        self._held = {s: e for s, e in self._held.items() if s > self.last}
        if retry or self._held:  # more arrived while we were reading
            self._filling = None
            self._schedule_fill(0.5 if retry else self.gap_wait)

    def _on_reconnect(self) -> None:
        self._schedule_fill(0)

    async def _read_bus(self) -> None:
        async for _channel, raw in self.bus.messages():
            try:
                event = decode_event(raw)
            except Exception:
                log.warning("ignoring an undecodable bus message")
                continue
            self.offer(event)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_every)
            try:
                if await self.store.head_seq() > self.last:
                    self._schedule_fill(0)
            except Exception:
                log.warning("store head check failed")
