"""Export, erasure and retention (issue 20): a resident's data as JSON, the
erasure of their account (by themselves after re-entering the password, or
by an admin for a request made at the town hall), and the purge that
applies the retention periods (`dispatch purge`, and `serve` on a timer).

The store does each in one transaction (ports.store: export_account,
erase_account, purge_batch); this class deletes the proof files after the
commit (a file left behind by a crash is nameless: no row points to it),
publishes the end of the erased account's sessions, and runs the purge in
batches, so one pass never holds the event loop or the writer for long."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Any

from dispatch.core.codec import CLOSE_ACCOUNT_SUSPENDED
from dispatch.core.model import User, iso, utcnow
from dispatch.core.retention import PURGE_KINDS, Retention
from dispatch.core.validation import InputError
from dispatch.ports.proofs import ProofFiles
from dispatch.ports.publisher import Publisher
from dispatch.ports.store import Store, StoreUnavailable
from dispatch.usecases.sessions import Sessions

log = logging.getLogger("dispatch")

PURGE_BATCH = 500  # rows of each kind per transaction
# serve's first pass waits this long, so that start-up (and its migrations)
# is done and several workers do not all start at once
FIRST_PURGE_AFTER_S = 60.0


class Privacy:
    def __init__(self, store: Store, proofs: ProofFiles, publisher: Publisher, sessions: Sessions) -> None:
        self.store = store
        self.proofs = proofs
        self.publisher = publisher
        self.sessions = sessions

    async def export(self, actor: User, user_id: int) -> dict[str, Any]:
        data = await self.store.export_account(user_id, actor.id, utcnow())
        if data is None or data["account"]["role"] not in ("resident", "referent"):
            raise InputError(404, "not_found", f"no resident account {user_id}")
        return {"exported_at": iso(utcnow()), **data}

    async def erase_own(self, user: User, password: str, address: str | None) -> None:
        """After the password is entered again (wrong: 422 wrong_password,
        counted as a failed login)."""
        if not await self.sessions.password_matches(user, password, address):
            raise InputError(422, "wrong_password", "the password is not this account's", "password")
        await self.erase(user, user.id)

    async def erase(self, actor: User, user_id: int) -> None:
        erased = await self.store.erase_account(user_id, actor.id, CLOSE_ACCOUNT_SUSPENDED, utcnow())
        if erased is None:
            raise InputError(404, "not_found", f"no resident account {user_id}")
        # every worker forgets the sessions and closes the sockets (4003)
        await self.publisher.publish(erased.event)
        self.sessions.forget(user_id, None)
        for name in erased.proof_files:
            await self.proofs.delete(name)


class Purge:
    """The retention periods applied: by `dispatch purge`, and by serve
    every `every_hours` (0: never). Several workers may run it: a pass that
    finds another running (PostgreSQL advisory lock) gives way, and a pass
    is idempotent."""

    def __init__(self, store: Store, proofs: ProofFiles, retention: Retention, every_hours: float = 0) -> None:
        self.store = store
        self.proofs = proofs
        self.retention = retention
        self.every_s = every_hours * 3600
        self._task: asyncio.Task[None] | None = None

    async def purge(self, as_of: datetime | None = None) -> dict[str, int] | None:
        """Apply every retention period as of `as_of` (default now): counts
        per kind, or None when another worker was purging."""
        cutoffs = self.retention.cutoffs(as_of or utcnow())
        total = dict.fromkeys(PURGE_KINDS, 0)
        while True:
            batch = await self.store.purge_batch(cutoffs, PURGE_BATCH)
            if batch is None:
                return None
            for kind, n in batch.counts.items():
                total[kind] = total.get(kind, 0) + n
            for name in batch.proof_files:
                await self.proofs.delete(name)
            if not batch.more:
                break
            await asyncio.sleep(0)  # let requests in between batches
        await self.store.record_purge(total, cutoffs.now, utcnow())
        return total

    def start(self) -> None:
        if self.every_s > 0:
            self._task = asyncio.get_running_loop().create_task(self._forever(), name="purge")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _forever(self) -> None:
        await asyncio.sleep(min(FIRST_PURGE_AFTER_S, self.every_s))
        while True:
            try:
                counts = await self.purge()
                if counts is not None:
                    log.info("purge: %s", ", ".join(f"{k} {v}" for k, v in counts.items()))
            except StoreUnavailable as exc:  # the next pass purges what this one left
                log.warning("purge pass skipped: %s", exc)
            except Exception:
                log.exception("purge pass failed")
            await asyncio.sleep(self.every_s)
