"""The limits port: small counters with an expiry, shared by every worker
when the deployment has Redis. dispatch.usecases.login_guard counts failed
logins and holds lockouts with it, dispatch.usecases.quotas counts alerts
and flags per resident. Two adapters, dispatch.adapters.limits_memory
(memory://: one process) and dispatch.adapters.limits_redis (redis://),
chosen by the bus URL in dispatch.adapters.open_limits, run one contract
suite (tests/test_limits_contract.py).

Windows are fixed: the first event of a key starts its clock, and the key
is gone `window_s` later, whatever happened in between."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Count:
    value: int  # 0 when the key is absent or expired
    ttl_s: float  # seconds until it expires; 0 when absent


@dataclass(frozen=True, slots=True)
class Taken:
    allowed: bool
    retry_after_s: float  # when refused: seconds until the window ends


class Limits(Protocol):
    shared: bool  # True: every worker sees the same counters

    async def connect(self) -> None: ...
    async def close(self) -> None: ...

    async def read(self, keys: Sequence[str]) -> list[Count]:
        """The counters (or holds) under `keys`, in order, in one round trip."""
        ...

    async def bump(self, key: str, window_s: float) -> Count:
        """Count one event under `key` and return the count so far; the
        first event starts the window."""
        ...

    async def hold(self, key: str, seconds: float) -> None:
        """Set `key` to 1 for `seconds` (a lockout), replacing what was there."""
        ...

    async def take(self, key: str, member: str, limit: int, window_s: float) -> Taken:
        """A quota of `limit` distinct members per window. A member already
        taken in this window is allowed again without counting (a retried
        request); a new one is allowed and counted while fewer than `limit`
        are, else refused and not counted."""
        ...

    async def forget(self, keys: Sequence[str]) -> None: ...
