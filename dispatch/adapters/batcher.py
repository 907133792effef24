"""Group commit for create_alert_grouped, shared by both stores."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from dispatch.core.model import Created, NewAlert

# core.model.Created: (alert, its events: alert.created first, then any
# incident events it caused, the outbox rows queued) when this call inserted
# it, (alert, []) when it existed.
InsertAlerts = Callable[[Sequence[NewAlert]], Awaitable[list[Created]]]


class AlertBatcher:
    """Group commit for create_alert_grouped.

    Every write bumps the one event_seq row and waits for its commit to reach
    the disk while holding it, so alerts written one per transaction are
    serialised on lock hand-offs and fsyncs (measured on PostgreSQL: about
    1,000/s with p99 around 200 ms at 64 concurrent callers on 2 CPUs).
    Here concurrent callers queue; a single task writes what has queued,
    at most `max_batch` alerts, with one `insert` call (one transaction,
    gapless seqs in call order), then the next batch, and so on.

    Within a batch a repeated (author, client_id) is written once; the later
    callers get (alert, []) like any repeat. If the batch fails with an
    error the database reports (`rolled_back`: the transaction is known to be
    rolled back, nothing was written) each alert is retried alone, so one bad
    alert (say, an unknown author) fails only its own caller. Any other error
    (connection lost: outcome unknown) is raised to every caller of the batch.
    A caller cancelled before its batch is formed is not written."""

    def __init__(self, insert: InsertAlerts, rolled_back: tuple[type[BaseException], ...], max_batch: int) -> None:
        self._insert = insert
        self._rolled_back = rolled_back
        self._max_batch = max_batch
        self._pending: list[tuple[NewAlert, asyncio.Future[Created]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, new: NewAlert) -> Created:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Created] = loop.create_future()
        self._pending.append((new, fut))
        if self._task is None:
            self._task = loop.create_task(self._run(), name="create_alert batcher")
        return await fut

    async def drain(self) -> None:
        """Wait until everything submitted so far is written (or failed)."""
        while (task := self._task) is not None:
            await asyncio.wait([task])

    async def _run(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                await self._write(batch)
        finally:
            self._task = None
            if self._pending:  # only when cancelled
                for _, fut in self._pending:
                    _settle(fut, RuntimeError("create_alert batcher stopped"))
                self._pending.clear()

    async def _write(self, batch: list[tuple[NewAlert, asyncio.Future[Created]]]) -> None:
        leaders: list[NewAlert] = []
        waiters: list[list[asyncio.Future[Created]]] = []
        by_key: dict[tuple[int, str], int] = {}
        for new, fut in batch:
            if fut.done():  # cancelled while queued
                continue
            key = None if new.client_id is None else (new.author, new.client_id)
            if key is not None and key in by_key:
                waiters[by_key[key]].append(fut)
                continue
            if key is not None:
                by_key[key] = len(leaders)
            leaders.append(new)
            waiters.append([fut])
        if not leaders:
            return
        outcomes: list[Created | BaseException]
        try:
            outcomes = list(await self._insert(leaders))
        except self._rolled_back as exc:
            outcomes = [exc] if len(leaders) == 1 else [await self._alone(new) for new in leaders]
        except BaseException as exc:
            for futs in waiters:
                for fut in futs:
                    _settle(fut, exc)
            if not isinstance(exc, Exception):
                raise
            return  # the next batch gets a fresh try
        for outcome, futs in zip(outcomes, waiters, strict=True):
            for k, fut in enumerate(futs):
                if isinstance(outcome, BaseException):
                    _settle(fut, outcome)
                    continue
                if not fut.done():
                    fut.set_result(outcome if k == 0 else Created(outcome.alert, []))

    async def _alone(self, new: NewAlert) -> Created | BaseException:
        try:
            return (await self._insert([new]))[0]
        except self._rolled_back as exc:
            return exc


def _settle(fut: asyncio.Future[Any], exc: BaseException) -> None:
    if fut.done():
        return
    if isinstance(exc, asyncio.CancelledError):
        fut.cancel()
    else:
        fut.set_exception(exc)
