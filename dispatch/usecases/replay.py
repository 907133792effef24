"""The store reads of a replay (`?since=SEQ`), shared by concurrent replays.

After a worker restart thousands of residents come back within seconds, and
nearly all of them with the same `since`: the last event before the restart.
Each replay used to make three queries (the store head, the events after
`since`, the hidden alerts among them) and decode the same rows again; in
bench/storm.py that was half of the worker's time per handshake. Here a read
already in flight is joined instead of repeated. Nothing is kept once a read
has answered: events can be rewritten (erasure, a hidden text) and alerts
hidden at any time, and a joined read is only ever one that a replay could
have made itself a moment earlier.

A page read for a replay whose channel watermark is `head` is complete up to
`head`: every event up to a watermark is committed (Sequencer.join), and
sequence numbers are taken in commit order, under the event counter's lock.
So a later replay joins a read in flight only if that read's watermark is at
least its own, or the page came back full."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from dispatch.core.events import ALERT_EVENTS
from dispatch.core.model import Event
from dispatch.ports.store import Store

PAGE = 1000  # events per read; a replay longer than this reads page after page
T = TypeVar("T")


@dataclass(frozen=True)
class Page:
    events: list[Event]
    hidden: frozenset[int]  # the alerts hidden now, among those the events name (core.events.stream_message)


class ReplayReads:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._head: asyncio.Future[int] | None = None
        self._pages: dict[int, tuple[int, asyncio.Future[Page]]] = {}  # cursor -> (complete to, read)

    async def store_head(self, at_least: int) -> int:
        """The store's highest sequence number (Store.head_seq), one read for
        every replay that asks while it runs. A client that holds a higher
        seq than a joined read saw (one committed meanwhile, through another
        worker) gets a read of its own, so it is never told `unknown_seq`
        for an event it was sent."""
        if self._head is None:
            self._head = _start(self.store.head_seq(), lambda: setattr(self, "_head", None))
        head = await asyncio.shield(self._head)
        return head if head >= at_least else await self.store.head_seq()

    async def page(self, cursor: int, head: int) -> Page:
        """Up to PAGE events after `cursor`, complete at least up to `head`."""
        flight = self._pages.get(cursor)
        if flight is None or flight[0] < head:
            read = _start(self._read(cursor), lambda: self._forget(cursor, read))
            flight = self._pages[cursor] = (head, read)
        return await asyncio.shield(flight[1])

    async def _read(self, cursor: int) -> Page:
        events = await self.store.events_after(cursor, limit=PAGE)
        named = sorted({e.data["id"] for e in events if e.type in ALERT_EVENTS})
        hidden = await self.store.hidden_among(named) if named else set()
        return Page(events, frozenset(hidden))

    def _forget(self, cursor: int, read: asyncio.Future[Page]) -> None:
        flight = self._pages.get(cursor)
        if flight is not None and flight[1] is read:
            del self._pages[cursor]


def _start(coro: Awaitable[T], done: Callable[[], None]) -> asyncio.Future[T]:
    """A shared read: forgotten as soon as it answers; its failure reaches
    every replay awaiting it and is never left unretrieved."""
    task: asyncio.Future[T] = asyncio.ensure_future(coro)

    def finished(f: asyncio.Future[T]) -> None:
        done()
        if not f.cancelled():
            f.exception()

    task.add_done_callback(finished)
    return task
