"""Per-resident quotas (dispatch/usecases/quotas.py) over the in-process
Limits adapter: alerts (a retried client_id counts once), flags (the limiter
the flag route calls), sockets per account. The servers' tests are in
tests/test_limits_e2e.py."""

from __future__ import annotations

import pytest

from dispatch.adapters.limits_memory import MemoryLimits
from dispatch.core.validation import RateLimited
from dispatch.usecases.quotas import Quotas


def quotas() -> Quotas:
    return Quotas(MemoryLimits(), alerts_per_window=2, flags_per_window=2, window_s=600, sockets_per_account=2)


async def test_alerts_count_once_per_client_id() -> None:
    q = quotas()
    await q.alert(1, "a")
    await q.alert(1, "a")
    await q.alert(1, None)
    await q.alert(1, "a")  # a retry, even past the limit
    with pytest.raises(RateLimited) as info:
        await q.alert(1, "b")
    assert info.value.status == 429 and 590 <= info.value.retry_after <= 600
    await q.alert(2, None)  # another resident


async def test_flags_per_resident() -> None:
    q = quotas()
    await q.flag(1, 10)
    await q.flag(1, 10)  # the same alert again counts once (the route answers 409)
    await q.flag(1, 11)
    with pytest.raises(RateLimited):
        await q.flag(1, 12)
    await q.flag(2, 12)


def test_sockets_per_account() -> None:
    q = quotas()
    q.open_socket(1)
    q.open_socket(1)
    with pytest.raises(RateLimited):
        q.open_socket(1)
    q.open_socket(2)
    q.close_socket(1)
    q.open_socket(1)
    assert q.open_sockets(1) == 2 and q.open_sockets(3) == 0
