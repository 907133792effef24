"""Delivery workers (issue 19): in every worker process, one asyncio task
per configured channel claims due outbox rows with a lease, sends them
(notify.concurrency at once), and records each outcome; a failed send is
retried with exponential backoff and full jitter (core.outbox.backoff_s).

Exactly once per channel: a row is written once per (message, recipient,
channel) (the outbox's UNIQUE key), claimed by one worker at a time (the
lease; store_outbox explains the SQL), and keyed for the receiving side
(ext_id: the SMS `id`, the Message-ID) so that the one send a crash can
repeat -- the worker died after the gateway took it, before the row was
marked -- carries the same key.

After each batch the broadcasts it touched get a `broadcast.receipts`
event on /ws/ops, at most once per broadcast per `poll_s`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from dispatch.core.model import utcnow
from dispatch.core.outbox import OutboxItem, Outcome, backoff_s, receipts_view
from dispatch.ports.notifier import Sender
from dispatch.ports.publisher import Publisher
from dispatch.ports.store import Store, StoreUnavailable

log = logging.getLogger("dispatch.delivery")


@dataclass(frozen=True)
class DeliveryPolicy:
    batch: int
    concurrency: int
    lease_s: float
    poll_s: float
    retry_base_s: float
    retry_cap_s: float
    max_attempts: int


Result = tuple[int, str, datetime, datetime | None, str | None]


def result_of(item: OutboxItem, outcome: Outcome, policy: DeliveryPolicy, now: datetime, u: float) -> Result:
    """(id, status, next_at, sent_at, error) of one send, as finish_outbox takes it."""
    if outcome.status == "sent":
        return item.id, "sent", now, now, None
    if outcome.status == "retry" and item.attempts < policy.max_attempts:
        wait = backoff_s(item.attempts, policy.retry_base_s, policy.retry_cap_s, u)
        return item.id, "queued", now + timedelta(seconds=wait), None, outcome.error
    return item.id, "failed", now, None, outcome.error


class Delivery:
    def __init__(
        self,
        store: Store,
        publisher: Publisher,
        senders: Sequence[Sender],
        policy: DeliveryPolicy,
        owner: str,
        app_reached: Callable[[], dict[int, set[int]]] = dict,
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.senders = list(senders)
        self.policy = policy
        self.owner = owner  # this worker process, in the lease
        self.app_reached = app_reached
        self._wake = {s.channel: asyncio.Event() for s in self.senders}
        self._tasks: list[asyncio.Task[None]] = []
        self._dirty: set[int] = set()
        self._random = random.SystemRandom()

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._run(s)) for s in self.senders]
        self._tasks.append(loop.create_task(self._receipts_loop()))

    def wake(self) -> None:
        """New rows are queued: look now rather than at the next poll."""
        for event in self._wake.values():
            event.set()

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        for s in self.senders:
            await s.close()

    async def _run(self, sender: Sender) -> None:
        wake = self._wake[sender.channel]
        while True:
            try:
                worked = await self.run_once(sender)
            except StoreUnavailable as exc:  # one line per poll while it is away, no traceback
                log.warning("delivery of %s waits for the store: %s", sender.channel, exc)
                worked = False
            except Exception:  # keep the worker alive
                log.exception("delivery of %s failed; retrying", sender.channel)
                worked = False
            if not worked:
                wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), self.policy.poll_s)

    async def run_once(self, sender: Sender) -> bool:
        """Claim one batch and send it; False when nothing was due."""
        p = self.policy
        now = utcnow()
        items = await self.store.claim_outbox(
            sender.channel, p.batch, self.owner, now, now + timedelta(seconds=p.lease_s)
        )
        if not items:
            return False
        gate = asyncio.Semaphore(p.concurrency)

        async def one(item: OutboxItem) -> Outcome:
            async with gate:
                try:
                    return await sender.send(item)
                except Exception as exc:  # a sender bug must not lose the row
                    log.exception("sender %s raised", sender.channel)
                    return Outcome("retry", type(exc).__name__)

        outcomes = await asyncio.gather(*(one(i) for i in items))
        done = utcnow()
        results = [result_of(i, o, p, done, self._random.random()) for i, o in zip(items, outcomes)]
        await self.store.finish_outbox(self.owner, results)
        self._dirty.update(i.ref_id for i in items if i.kind == "broadcast")
        return True

    async def _receipts_loop(self) -> None:
        while True:
            await asyncio.sleep(self.policy.poll_s)
            try:
                await self.flush_receipts()
            except StoreUnavailable as exc:
                log.warning("receipts update waits for the store: %s", exc)
            except Exception:
                log.exception("receipts update failed")

    async def flush_receipts(self) -> None:
        reached = self.app_reached()
        for bid in list(reached):
            users = reached.pop(bid)  # added to what this worker stored before
            await self.store.put_app_receipt(bid, self.owner, len(users))
            self._dirty.add(bid)
        dirty, self._dirty = self._dirty, set()
        for bid in sorted(dirty):
            await self.publish_receipts(bid)

    async def receipts(self, broadcast_id: int) -> dict[str, dict[str, int]]:
        counts = await self.store.outbox_counts("broadcast", broadcast_id)
        return receipts_view(counts, await self.store.app_delivered(broadcast_id))

    async def publish_receipts(self, broadcast_id: int) -> None:
        data = {"id": broadcast_id, "receipts": await self.receipts(broadcast_id)}
        event = await self.store.append_ops_event("broadcast.receipts", data, utcnow())
        await self.publisher.publish(event)

    async def sms_status(self, ext_id: str, status: str) -> bool:
        """The gateway's report on one SMS; False for an id we never sent."""
        found = await self.store.sms_status(ext_id, status)
        if found is None:
            return False
        if found[0] == "broadcast":
            self._dirty.add(found[1])
        return True
