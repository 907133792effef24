"""Failed-login counting and lanes (dispatch/usecases/login_guard.py), over
the in-process Limits adapter; the servers' tests are tests/test_limits_e2e.py."""

from __future__ import annotations

import asyncio

import pytest

from dispatch.adapters.limits_memory import MemoryLimits
from dispatch.core.validation import RateLimited
from dispatch.usecases.hash_gate import CLEAN, SUSPECT, TRUSTED
from dispatch.usecases.login_guard import LoginGuard, LoginPolicy, address_key


def guard(**policy: float) -> LoginGuard:
    return LoginGuard(MemoryLimits(), LoginPolicy(**policy), pause_s=0.01)  # type: ignore[arg-type]


def test_addresses_are_throttled_by_their_unit() -> None:
    assert address_key("127.0.0.2") == "127.0.0.2"
    assert address_key("::ffff:10.0.0.1") == "10.0.0.1"
    assert address_key("2001:db8::1") == address_key("2001:db8::ffff") == "2001:db8::/64"
    assert address_key(None) == "unknown"


async def test_lanes_follow_what_is_known_of_the_account_and_the_address() -> None:
    g = guard()
    assert await g.admit("a@x.org", "10.0.0.1") == CLEAN
    await g.succeeded("a@x.org", "10.0.0.1")
    assert await g.admit("b@x.org", "10.0.0.1") == TRUSTED  # the address logged in before
    await g.failed("b@x.org", "10.0.0.1")
    assert await g.admit("b@x.org", "10.0.0.1") == TRUSTED  # one typo is forgiven
    await g.failed("c@x.org", "10.0.0.1")
    assert await g.admit("d@x.org", "10.0.0.1") == SUSPECT  # two failures from the address
    await g.failed("e@x.org", "10.0.0.9")
    await g.failed("e@x.org", "10.0.0.8")
    assert await g.admit("e@x.org", "10.0.0.7") == SUSPECT  # two failures of the account


async def test_locks_and_what_a_success_clears() -> None:
    g = guard(per_account=3, per_address=4, lockout_s=0.3)
    for i in range(3):
        await g.failed("a@x.org", f"10.0.0.{i}")
    with pytest.raises(RateLimited) as info:  # locked, from any address
        await g.admit("a@x.org", "10.0.1.1")
    assert info.value.retry_after == 1
    await asyncio.sleep(0.35)
    assert await g.admit("a@x.org", "10.0.1.1") == CLEAN  # the lock ended, and took the count with it
    for i in range(4):
        await g.failed(f"u{i}@x.org", "10.0.2.2")
    with pytest.raises(RateLimited):  # the address is throttled, whatever the account
        await g.admit("fresh@x.org", "10.0.2.2")
    await g.failed("b@x.org", "10.0.3.3")
    await g.failed("b@x.org", "10.0.3.4")
    await g.succeeded("b@x.org", "10.0.3.5")
    assert await g.admit("b@x.org", "10.0.3.5") == TRUSTED  # the account's count is cleared
    assert await g.admit("z@x.org", "10.0.3.3") == CLEAN  # an address's is not (one failure there)


async def test_one_address_guessing_in_parallel_is_suspect() -> None:
    g = guard()
    async with g.attempt("a@x.org", "10.0.0.1") as first, g.attempt("b@x.org", "10.0.0.1") as second:
        async with g.attempt("c@x.org", "10.0.0.2") as elsewhere:
            assert (first, second, elsewhere) == (CLEAN, SUSPECT, CLEAN)
    async with g.attempt("a@x.org", "10.0.0.1") as again:
        assert again == CLEAN
