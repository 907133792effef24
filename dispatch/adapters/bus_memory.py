"""In-process bus for a single worker (bus.url = "memory://").

Also home of `Inbox`, the bounded hand-off between a bus and its consumer,
which RedisBus reuses so both adapters drop and filter the same way."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence

from dispatch.telemetry import metrics

log = logging.getLogger(__name__)

DEFAULT_MAXSIZE = 10_000


class Inbox:
    """Bounded queue of (channel, message) for the bus's one consumer.

    put() never waits: a slow consumer must not stall the publisher (memory)
    or the socket reader (Redis). On overflow the message is dropped and
    counted; the consumer recovers from the store when it sees the seq gap.
    `channels` is the bus's live subscription set: it is checked again when
    a message is handed out, so nothing queued for a channel is yielded once
    unsubscribe() has returned."""

    def __init__(self, channels: set[str], maxsize: int = DEFAULT_MAXSIZE) -> None:
        self._channels = channels
        self._queue: asyncio.Queue[tuple[str, bytes] | None] = asyncio.Queue(maxsize)
        self._closed = False
        self._overflowing = False
        self.dropped = 0

    def put(self, channel: str, message: bytes) -> None:
        if self._closed or channel not in self._channels:
            return
        try:
            self._queue.put_nowait((channel, message))
        except asyncio.QueueFull:
            self.dropped += 1
            metrics.bus_error("inbox_full")
            if not self._overflowing:  # one warning per backlog, not per message
                self._overflowing = True
                log.warning("bus inbox full (%d): consumer too slow, dropping messages", self._queue.maxsize)

    def close(self) -> None:
        """Wake the consumer so messages() ends. The backlog is kept if
        there is room for the end marker, otherwise its oldest item goes."""
        if self._closed:
            return
        self._closed = True
        while True:
            try:
                self._queue.put_nowait(None)
                return
            except asyncio.QueueFull:
                self._queue.get_nowait()

    async def messages(self) -> AsyncIterator[tuple[str, bytes]]:
        # One consumer per bus: two iterators would split the stream between them.
        while not (self._closed and self._queue.empty()):
            item = await self._queue.get()
            if item is None:
                return
            if self._queue.empty():
                self._overflowing = False
            if item[0] in self._channels:
                yield item


class MemoryBus:
    """Pub/sub inside one process: publish_batch() reaches only this bus's
    own subscriptions, so it is correct for exactly one worker."""

    shared = False  # one process: the publisher's own sequencer already has the event

    def __init__(self, maxsize: int = DEFAULT_MAXSIZE) -> None:
        self._channels: set[str] = set()
        self._inbox = Inbox(self._channels, maxsize)
        self._closed = False

    @property
    def dropped(self) -> int:
        """Messages lost because the consumer's queue was full."""
        return self._inbox.dropped

    async def connect(self) -> None:
        pass

    async def close(self) -> None:
        self._closed = True
        self._inbox.close()

    async def ping(self) -> None:
        if self._closed:
            raise RuntimeError("bus is closed")

    async def publish_batch(self, batch: Sequence[tuple[Sequence[str], bytes]]) -> None:
        for channels, message in batch:
            # bytes() normalises bytearray/memoryview (callers could mutate
            # them after publishing); for bytes it is the same object, no copy.
            message = bytes(message)
            for channel in channels:
                self._inbox.put(channel, message)

    async def subscribe(self, channel: str) -> None:
        if not self._closed:
            self._channels.add(channel)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)

    def messages(self) -> AsyncIterator[tuple[str, bytes]]:
        return self._inbox.messages()

    def on_reconnect(self, callback: Callable[[], None]) -> None:
        """Accepted for the Bus protocol; never called, there is no link to lose."""
