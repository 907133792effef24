"""How many password verifications run at once, and whose go first.

An Argon2id verify costs about 0.1 s of CPU (and 64 MiB), so a stranger who
sends 64 bad logins at once would otherwise queue every resident behind 64
of them: 12.7 s for one good login, measured before this gate. The gate runs
at most `slots` verifications at once, in threads, in three lanes, each
served only when the lanes before it have nobody waiting:

- TRUSTED: from an address that logged in successfully before and has not
  failed since (dispatch.usecases.login_guard). A stranger's verification
  (the two other lanes) starts only while two slots are free, so one is
  always free for this lane: a resident at home never waits for a stranger,
  and shares the CPU with at most the strangers' verifications already
  under way, none starting while the machine's last free slot is in use.
- CLEAN: nothing known either way.
- SUSPECT: the account or the address failed recently. At most
  `suspect_slots` at once, and at most `queue` waiting: one more is refused
  (429) at once rather than holding memory and a connection.

TRUSTED and CLEAN wait in bounded queues too (`trusted_queue`, `clean_queue`)."""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import Callable
from typing import TypeVar

from dispatch.core.validation import RateLimited

T = TypeVar("T")
TRUSTED, CLEAN, SUSPECT = 0, 1, 2


def default_slots() -> tuple[int, int]:
    """(slots, suspect slots) for this machine: one per core (two at
    least), a quarter of them (one at least) for suspects."""
    slots = max(2, os.cpu_count() or 1)
    return slots, max(1, slots // 4)


class HashGate:
    def __init__(
        self, slots: int, suspect_slots: int, queue: int = 8, clean_queue: int = 32, trusted_queue: int = 256
    ) -> None:
        if not 1 <= suspect_slots < slots:
            raise ValueError("suspects need at least one slot and must leave one to trusted logins")
        self.slots = slots
        self.suspect_slots = suspect_slots
        self.queues = (trusted_queue, clean_queue, queue)
        self.running = [0, 0, 0]
        self._waiting: tuple[deque[asyncio.Future[None]], ...] = (deque(), deque(), deque())
        self.refused = 0

    @property
    def busy(self) -> int:
        return sum(self.running)

    def _may_start(self, lane: int) -> bool:
        if self.busy >= self.slots or any(self._waiting[i] for i in range(lane)):
            return False
        if lane >= CLEAN and self.busy >= self.slots - 1:  # a stranger leaves one slot free, always
            return False
        return lane != SUSPECT or self.running[SUSPECT] < self.suspect_slots

    def _release(self, lane: int) -> None:
        self.running[lane] -= 1
        for i, waiters in enumerate(self._waiting):
            while waiters and self._may_start(i):
                fut = waiters.popleft()
                if not fut.done():
                    self.running[i] += 1
                    fut.set_result(None)

    async def _acquire(self, lane: int) -> None:
        waiters = self._waiting[lane]
        if not waiters and self._may_start(lane):
            self.running[lane] += 1
            return
        if len(waiters) >= self.queues[lane]:
            self.refused += 1
            raise RateLimited(1, "too many logins at once: try again in a moment")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self._release(lane)  # granted as we were cancelled: hand it on
            elif fut in waiters:
                waiters.remove(fut)
            raise

    async def run(self, lane: int, fn: Callable[..., T], *args: object) -> T:
        """fn(*args) in a thread once `lane` may start (RateLimited when its
        queue is full)."""
        await self._acquire(lane)
        try:
            return await asyncio.to_thread(fn, *args)
        finally:
            self._release(lane)
