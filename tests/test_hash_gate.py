"""The password-hashing gate (dispatch/usecases/hash_gate.py): bounded, in
three lanes served in order (trusted, clean, suspect), a slot always free
for trusted logins, bounded queues."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from dispatch.core.validation import RateLimited
from dispatch.usecases.hash_gate import CLEAN, SUSPECT, TRUSTED, HashGate, default_slots


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
        suspect = not name.startswith("t")
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


async def test_lanes_are_served_in_order() -> None:
    gate, work = HashGate(3, 1, queue=8), Work()
    first = [asyncio.create_task(gate.run(SUSPECT, work, "s0", 0.1))]
    await asyncio.sleep(0.01)
    waiting = [asyncio.create_task(gate.run(SUSPECT, work, f"s{i}")) for i in (1, 2)]
    waiting += [asyncio.create_task(gate.run(CLEAN, work, f"c{i}")) for i in (0, 1)]
    await asyncio.sleep(0.01)
    waiting += [asyncio.create_task(gate.run(TRUSTED, work, f"t{i}")) for i in (0, 1)]
    await asyncio.gather(*first, *waiting)
    # c0 found two slots free; t0 took the last at once, t1 the next that freed,
    # ahead of c1 and the suspects, which waited longer; then clean before suspect
    assert work.order == ["s0", "c0", "t0", "t1", "c1", "s1", "s2"]
    assert work.most <= 3 and work.most_suspect == 2  # "suspect" here counts every stranger
    assert gate.running == [0, 0, 0]


async def test_a_trusted_login_never_waits_for_strangers() -> None:
    gate, work = HashGate(2, 1, queue=64, clean_queue=64), Work()
    strangers = [asyncio.create_task(gate.run(CLEAN if i % 2 else SUSPECT, work, f"s{i}", 0.05)) for i in range(20)]
    await asyncio.sleep(0.02)
    assert work.most_suspect == 1  # strangers leave a slot free: one at a time on two slots
    begun = len(work.order)
    assert await gate.run(TRUSTED, work, "t", 0.05) == "t"
    # its own slot at once, not a place in a queue of 20: at most the stranger
    # whose thread started as it was handed over ran before it (counted, not
    # timed, so that a loaded CI machine cannot fail it)
    assert work.order.index("t") <= begun + 1
    await asyncio.gather(*strangers)
    assert work.most_suspect == 1


async def test_a_full_queue_refuses_at_once() -> None:
    gate, work = HashGate(2, 1, queue=2, clean_queue=1), Work()
    held = [asyncio.create_task(gate.run(SUSPECT, work, f"s{i}", 0.1)) for i in range(3)]  # one runs, two wait
    await asyncio.sleep(0.01)
    with pytest.raises(RateLimited) as info:
        await gate.run(SUSPECT, work, "s-late")
    assert info.value.status == 429 and info.value.code == "rate_limited" and info.value.retry_after == 1
    assert gate.refused == 1
    await asyncio.gather(*held)


async def test_a_cancelled_waiter_gives_its_turn_away() -> None:
    gate, work = HashGate(2, 1), Work()
    first = asyncio.create_task(gate.run(SUSPECT, work, "s0", 0.1))
    await asyncio.sleep(0.01)
    waiting = asyncio.create_task(gate.run(SUSPECT, work, "s1"))
    behind = asyncio.create_task(gate.run(SUSPECT, work, "s2"))
    await asyncio.sleep(0.01)
    waiting.cancel()
    await first
    assert await behind == "s2"
    assert waiting.cancelled() and "s1" not in work.order
    assert gate.running == [0, 0, 0]


def test_slots_fit_the_machine_and_leave_clean_logins_room() -> None:
    slots, suspect = default_slots()
    assert slots >= 2 and 1 <= suspect < slots
    with pytest.raises(ValueError):
        HashGate(1, 1)
