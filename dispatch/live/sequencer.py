"""Delivers each subscribed channel's events to this worker's hub in order,
exactly once.

Events reach a worker by three roads: its own commits (the fast path, no
round trip), the bus (other workers' commits; lossy), and the store (the
truth). Every event names, for each channel it is published on, the seq of
the previous event of that channel (`links`), written in the same
transaction that commits the event (ports.Store). So a worker knows at once
when it missed something on a channel: after a short wait for the bus, it
reads the missing range from the store. A periodic check of the channel
heads catches an event lost at the tail, when no later one reveals the gap."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

import orjson

from dispatch.core.model import Event, iso
from dispatch.ports.bus import Bus
from dispatch.ports.store import Store
from dispatch.telemetry import metrics

log = logging.getLogger("dispatch.live.sequencer")

# How long a channel may stay without listeners before we unsubscribe:
# reconnecting clients come back within seconds.
LINGER_S = 30.0


def encode_event(event: Event) -> bytes:
    return orjson.dumps(
        {
            "seq": event.seq,
            "type": event.type,
            "data": event.data,
            "created_at": iso(event.created_at),
            "links": event.links,
        }
    )


def decode_event(raw: bytes) -> Event:
    obj = orjson.loads(raw)
    created = datetime.fromisoformat(obj["created_at"].replace("Z", "+00:00"))
    return Event(int(obj["seq"]), obj["type"], obj["data"], created, obj.get("links") or {})


class _Channel:
    __slots__ = ("again", "filling", "held", "last", "name")

    def __init__(self, name: str, last: int) -> None:
        self.name = name
        self.last = last
        self.held: dict[int, Event] = {}  # by the seq of their predecessor
        self.filling: asyncio.Task[None] | None = None
        # a read was asked for while one was in flight: that read may have
        # started before what it must find was committed, so read once more
        self.again = False


class Sequencer:
    def __init__(
        self,
        store: Store,
        bus: Bus,
        deliver: Callable[[str, Event], None],
        gap_wait: float = 0.02,
        poll_every: float = 1.0,
    ) -> None:
        self.store = store
        self.bus = bus
        self.deliver = deliver
        self.gap_wait = gap_wait
        self.poll_every = poll_every
        self.channels: dict[str, _Channel] = {}
        self._joining: dict[str, asyncio.Future[_Channel]] = {}
        self._leaving: dict[str, asyncio.TimerHandle] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._outbox: list[Event] = []
        self._sending: asyncio.Task[None] | None = None
        self.filled_from_store = 0

    async def start(self) -> None:
        self.bus.on_reconnect(self._on_reconnect)
        self._tasks = [
            asyncio.create_task(self._read_bus(), name="sequencer-bus"),
            asyncio.create_task(self._poll(), name="sequencer-poll"),
        ]

    async def stop(self) -> None:
        try:
            await asyncio.wait_for(self.flush(), 2.0)
        except TimeoutError:
            pass
        for handle in self._leaving.values():
            handle.cancel()
        tasks = [*self._tasks, *(c.filling for c in self.channels.values() if c.filling)]
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass

    # subscriptions ------------------------------------------------------------
    async def join(self, name: str) -> int:
        """Listen on a channel; returns its watermark: every event of the
        channel up to it is in the store, every later one will be delivered."""
        handle = self._leaving.pop(name, None)
        if handle is not None:
            handle.cancel()
        channel = self.channels.get(name)
        if channel is not None:
            return channel.last
        pending = self._joining.get(name)
        if pending is None:
            pending = asyncio.get_running_loop().create_future()
            self._joining[name] = pending
            # concurrent joiners see the failure; nobody may be left to retrieve it
            pending.add_done_callback(lambda f: f.cancelled() or f.exception())
            try:
                await self.bus.subscribe(name)  # first, so nothing after the head read is missed
                channel = self.channels[name] = _Channel(name, await self.store.channel_head(name))
                pending.set_result(channel)
            except BaseException as exc:
                pending.set_exception(exc)
                with contextlib.suppress(Exception):  # leave no subscription nobody joined
                    await self.bus.unsubscribe(name)
                raise
            finally:
                del self._joining[name]
        return (await asyncio.shield(pending)).last

    def leave_later(self, name: str) -> None:
        if name in self.channels and name not in self._leaving:
            self._leaving[name] = asyncio.get_running_loop().call_later(LINGER_S, self._leave, name)

    def _leave(self, name: str) -> None:
        self._leaving.pop(name, None)
        channel = self.channels.pop(name, None)
        if channel is not None:
            if channel.filling is not None:
                channel.filling.cancel()
            task = asyncio.get_running_loop().create_task(self._unsubscribe(name))
            self._tasks.append(task)
            task.add_done_callback(self._tasks.remove)

    async def _unsubscribe(self, name: str) -> None:
        # subscribe/unsubscribe are set operations: a join() that ran since
        # we decided to leave must win
        if name not in self.channels and name not in self._joining:
            await self.bus.unsubscribe(name)

    def watermark(self, name: str) -> int:
        channel = self.channels.get(name)
        return channel.last if channel else 0

    # events -------------------------------------------------------------------
    async def publish(self, event: Event) -> None:
        """Called after a commit on this worker: deliver here at once, and
        queue for the other workers. The caller does not wait for Redis (the
        store has the event; the bus is the fast path), and what concurrent
        requests queue meanwhile goes out in one pipeline."""
        metrics.published(event.type)
        for name in event.links:
            self.offer(name, event)
        if not self.bus.shared:  # in-process bus: this worker is the only one
            return
        self._outbox.append(event)
        if self._sending is None or self._sending.done():
            self._sending = asyncio.get_running_loop().create_task(self._send_outbox())

    async def _send_outbox(self) -> None:
        while self._outbox:
            batch, self._outbox = self._outbox, []
            try:
                await self.bus.publish_batch([(list(e.links), encode_event(e)) for e in batch])
            except Exception:  # the store has them; other workers catch up from there
                log.warning("bus publish failed; other workers will catch up from the store")

    async def flush(self) -> None:
        """Wait until everything queued for the bus has been handed to it."""
        while self._sending is not None and not self._sending.done():
            await asyncio.wait([self._sending])

    def offer(self, name: str, event: Event) -> None:
        channel = self.channels.get(name)
        if channel is None or event.seq <= channel.last:
            return
        prev = event.links.get(name, 0)
        if prev > channel.last:
            channel.held[prev] = event
            self._schedule_fill(channel, self.gap_wait)
            return
        self._emit(channel, event)
        while channel.held:
            nxt = channel.held.pop(channel.last, None)
            if nxt is None:
                break
            self._emit(channel, nxt)

    def _emit(self, channel: _Channel, event: Event) -> None:
        channel.last = event.seq
        try:
            self.deliver(channel.name, event)
        except Exception:
            log.exception("delivering event %s failed", event.seq)

    def _schedule_fill(self, channel: _Channel, delay: float) -> None:
        if channel.filling is None or channel.filling.done():
            channel.again = False
            channel.filling = asyncio.get_running_loop().create_task(self._fill(channel, delay))
        elif delay == 0:  # a reconnect or a head poll: not satisfied by a read already under way
            channel.again = True

    async def _fill(self, channel: _Channel, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        retry = False
        try:
            while self.channels.get(channel.name) is channel:
                events = await self.store.events_after(channel.last, limit=1000, channel=channel.name)
                for event in events:
                    self.filled_from_store += 1
                    self.offer(channel.name, event)
                if len(events) < 1000:
                    break
        except Exception:
            log.warning("catching up from the store failed; retrying")
            metrics.store_error("catch_up")
            retry = True
        channel.held = {p: e for p, e in channel.held.items() if e.seq > channel.last}
        again, channel.again = channel.again, False
        if retry or channel.held or again:  # more arrived, or was asked for, while we were reading
            channel.filling = None
            self._schedule_fill(channel, 0.5 if retry else 0 if again else self.gap_wait)

    def _on_reconnect(self) -> None:
        for channel in self.channels.values():
            self._schedule_fill(channel, 0)

    async def _read_bus(self) -> None:
        # one event arrives once per channel we share with it: decode it once
        recent: dict[bytes, Event] = {}
        async for name, raw in self.bus.messages():
            event = recent.get(raw)
            if event is None:
                try:
                    event = decode_event(raw)
                except Exception:
                    log.warning("ignoring an undecodable bus message")
                    continue
                recent[raw] = event
                if len(recent) > 64:
                    del recent[next(iter(recent))]
            self.offer(name, event)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_every)
            if not self.channels:
                continue
            try:
                heads = await self.store.channel_heads(list(self.channels))
            except Exception:
                log.warning("store head check failed")
                metrics.store_error("heads")
                continue
            for name, head in heads.items():
                channel = self.channels.get(name)
                if channel is not None and head > channel.last:
                    self._schedule_fill(channel, 0)
