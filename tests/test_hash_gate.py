"""The password-hashing gate (dispatch/usecases/hash_gate.py): bounded, clean
logins first, suspects in their own small lane with a bounded queue."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from dispatch.core.validation import RateLimited
from dispatch.usecases.hash_gate import HashGate, default_slots


class Work:
    """A stand-in for one Argon2 verify: sleeps in its thread, records who ran
    and how many ran at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.order: list[str] = []
        self.now = 0
        self.most = 0
        self.most_suspect = 0
        self.suspect_now = 0

    def __call__(self, name: str, seconds: float = 0.05) -> str:
        suspect = name.startswith("s")
        with self.lock:
            self.order.append(name)
            self.now += 1
            self.suspect_now += suspect
            self.most = max(self.most, self.now)
            self.most_suspect = max(self.most_suspect, self.suspect_now)
        time.sleep(seconds)
        with self.lock:
            self.now -= 1
            self.suspect_now -= suspect
        return name


async def test_clean_logins_overtake_waiting_suspects() -> None:
    gate, work = HashGate(2, 1, queue=8), Work()
    suspects = [asyncio.create_task(gate.run(False, work, f"s{i}")) for i in range(4)]
    await asyncio.sleep(0.01)
    cleans = [asyncio.create_task(gate.run(True, work, f"c{i}")) for i in range(3)]
    assert await asyncio.gather(*suspects, *cleans) == ["s0", "s1", "s2", "s3", "c0", "c1", "c2"]
    assert work.order[0] == "s0" and work.order[1:4] == ["c0", "c1", "c2"]  # not behind s1..s3
    assert work.most == 2 and work.most_suspect == 1
    assert gate.running == gate.running_suspect == 0


async def test_a_clean_login_never_waits_for_suspects() -> None:
    gate, work = HashGate(2, 1, queue=64), Work()
    suspects = [asyncio.create_task(gate.run(False, work, f"s{i}", 0.05)) for i in range(20)]
    await asyncio.sleep(0.02)
    started = time.monotonic()
    assert await gate.run(True, work, "c", 0.05) == "c"
    assert time.monotonic() - started < 0.09  # its own slot at once, not a place in a queue of 20
    await asyncio.gather(*suspects)


async def test_a_full_queue_refuses_at_once() -> None:
    gate, work = HashGate(2, 1, queue=2, clean_queue=1), Work()
    held = [asyncio.create_task(gate.run(False, work, f"s{i}", 0.1)) for i in range(3)]  # one runs, two wait
    await asyncio.sleep(0.01)
    with pytest.raises(RateLimited) as info:
        await gate.run(False, work, "s-late")
    assert info.value.status == 429 and info.value.code == "rate_limited" and info.value.retry_after == 1
    assert gate.refused == 1
    await asyncio.gather(*held)


async def test_a_cancelled_waiter_gives_its_turn_away() -> None:
    gate, work = HashGate(2, 1), Work()
    first = asyncio.create_task(gate.run(False, work, "s0", 0.1))
    await asyncio.sleep(0.01)
    waiting = asyncio.create_task(gate.run(False, work, "s1"))
    behind = asyncio.create_task(gate.run(False, work, "s2"))
    await asyncio.sleep(0.01)
    waiting.cancel()
    await first
    assert await behind == "s2"
    assert waiting.cancelled() and "s1" not in work.order
    assert gate.running == 0


def test_slots_fit_the_machine_and_leave_clean_logins_room() -> None:
    slots, suspect = default_slots()
    assert slots >= 2 and 1 <= suspect < slots
    with pytest.raises(ValueError):
        HashGate(1, 1)
