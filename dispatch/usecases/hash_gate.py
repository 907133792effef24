"""How many password verifications run at once, and whose go first.

An Argon2id verify costs about 0.1 s of CPU (and 64 MiB), so a stranger who
sends 64 bad logins at once would otherwise queue every resident behind 64
of them: 12.7 s for one good login, measured before this gate. The gate runs
at most `slots` verifications at once, in threads. A *clean* login (neither
its account nor its address failed recently) may take any free slot and is
always served before a *suspect* one (either has recent failures); suspects
use at most `suspect_slots` slots, so a clean login never waits for one, and
at most `queue` suspects wait: one more is refused (429) at once instead of
holding memory and a connection. Clean logins are bounded the same way, by
a longer queue."""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import Callable
from typing import TypeVar

from dispatch.core.validation import RateLimited

T = TypeVar("T")


def default_slots() -> tuple[int, int]:
    """(slots, suspect slots) for this machine: one per core (two at
    least), a quarter of them (one at least) for suspects."""
    slots = max(2, os.cpu_count() or 1)
    return slots, max(1, slots // 4)


class HashGate:
    def __init__(self, slots: int, suspect_slots: int, queue: int = 8, clean_queue: int = 256) -> None:
        if not 1 <= suspect_slots < slots:
            raise ValueError("suspects need at least one slot and must leave one to clean logins")
        self.slots = slots
        self.suspect_slots = suspect_slots
        self.queue = queue
        self.clean_queue = clean_queue
        self.running = 0
        self.running_suspect = 0
        self._clean: deque[asyncio.Future[None]] = deque()
        self._suspect: deque[asyncio.Future[None]] = deque()
        self.refused = 0

    def _may_start(self, clean: bool) -> bool:
        if self.running >= self.slots:
            return False
        return clean or (not self._clean and self.running_suspect < self.suspect_slots)

    def _start(self, clean: bool) -> None:
        self.running += 1
        if not clean:
            self.running_suspect += 1

    def _release(self, clean: bool) -> None:
        self.running -= 1
        if not clean:
            self.running_suspect -= 1
        self._wake()

    def _wake(self) -> None:
        for waiters, clean in ((self._clean, True), (self._suspect, False)):
            while waiters and self._may_start(clean):
                fut = waiters.popleft()
                if not fut.done():
                    self._start(clean)
                    fut.set_result(None)

    async def _acquire(self, clean: bool) -> None:
        waiters = self._clean if clean else self._suspect
        if not waiters and self._may_start(clean):
            self._start(clean)
            return
        if len(waiters) >= (self.clean_queue if clean else self.queue):
            self.refused += 1
            raise RateLimited(1, "too many logins at once: try again in a moment")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self._release(clean)  # granted as we were cancelled: hand it on
            elif fut in waiters:
                waiters.remove(fut)
            raise

    async def run(self, clean: bool, fn: Callable[..., T], *args: object) -> T:
        """fn(*args) in a thread, once a slot is free (RateLimited when the
        caller's queue is full)."""
        await self._acquire(clean)
        try:
            return await asyncio.to_thread(fn, *args)
        finally:
            self._release(clean)
