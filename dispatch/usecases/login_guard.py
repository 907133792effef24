"""Failed logins, counted per account and per client address over the
Limits port (in Redis when the deployment has it, so every worker counts
together), and the lockouts they lead to.

Within `window_s`, `per_account` failures for one e-mail lock that e-mail
for `lockout_s`, even with the right password, and `per_address` failures
from one address (an IPv6 address counts as its /64) throttle that address
for as long. Unknown e-mails are counted and locked exactly like known ones,
so neither the answers nor their timing tell whether an account exists.
Keys hold hashes, never an e-mail or an address. A success clears the
account's failures, not the address's (else one good account would let an
address guess at every other), and marks the address as one that logs in:
its logins go first for hashing (hash_gate.TRUSTED) while it does not fail.

A refused login is answered after a pause of `pause_s` (at most `max_paused`
at once), so a client that ignores Retry-After cannot make the server spin
on refusals."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import NoReturn

from dispatch.core.validation import RateLimited
from dispatch.ports.limits import Limits
from dispatch.usecases.hash_gate import CLEAN, SUSPECT, TRUSTED

SUSPECT_AFTER = 2  # recent failures (of the account or the address) that make a login suspect: one typo does not
TRUST_S = 30 * 24 * 3600.0  # how long an address that logged in stays trusted (while it does not fail)


@dataclass(frozen=True)
class LoginPolicy:
    per_account: int = 5
    per_address: int = 20
    window_s: float = 15 * 60
    lockout_s: float = 15 * 60


def address_key(address: str | None) -> str:
    """The unit an address is throttled as: itself, or its /64 for IPv6."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def _digest(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}\0{value}".encode()).hexdigest()[:32]


class LoginGuard:
    def __init__(self, limits: Limits, policy: LoginPolicy, pause_s: float = 1.0, max_paused: int = 256) -> None:
        self.limits = limits
        self.policy = policy
        self.pause_s = pause_s
        self.max_paused = max_paused
        self._paused = 0
        self._clean_in_flight: Counter[str] = Counter()

    @staticmethod
    def _keys(email: str, address: str | None) -> tuple[str, str]:
        return _digest("account", email), _digest("address", address_key(address))

    async def admit(self, email: str, address: str | None) -> int:
        """Refuse (429) a locked account or a throttled address, before any
        hashing. Otherwise the lane its verification waits in (hash_gate):
        SUSPECT after two recent failures of the account or the address,
        TRUSTED from an address that logged in before, else CLEAN."""
        account, addr = self._keys(email, address)
        locked, throttled, account_fails, address_fails, known = await self.limits.read(
            [
                f"login:lock:{account}",
                f"login:lock:{addr}",
                f"login:fail:{account}",
                f"login:fail:{addr}",
                f"login:ok:{addr}",
            ]
        )
        if locked.value:
            await self.refuse(RateLimited(locked.ttl_s, "too many failed logins for this account: try again later"))
        if throttled.value:
            await self.refuse(RateLimited(throttled.ttl_s, "too many failed logins from this address: try again later"))
        if account_fails.value >= SUSPECT_AFTER or address_fails.value >= SUSPECT_AFTER:
            return SUSPECT
        return TRUSTED if known.value else CLEAN

    @contextlib.asynccontextmanager
    async def attempt(self, email: str, address: str | None) -> AsyncIterator[int]:
        """admit(), and while the verification runs: a second CLEAN login
        from one address at once is taken as SUSPECT (one stranger, many
        guesses in parallel)."""
        lane = await self.admit(email, address)
        key = address_key(address)
        if lane == CLEAN and self._clean_in_flight[key]:
            lane = SUSPECT
        if lane == CLEAN:
            self._clean_in_flight[key] += 1
        try:
            yield lane
        finally:
            if lane == CLEAN:
                self._clean_in_flight[key] -= 1
                if not self._clean_in_flight[key]:
                    del self._clean_in_flight[key]

    async def failed(self, email: str, address: str | None) -> bool:
        """Count the failure; True when it locked the account (the audit
        records that lockout, of a known account)."""
        p = self.policy
        account, addr = self._keys(email, address)
        locked = False
        for key, limit in ((account, p.per_account), (addr, p.per_address)):
            if (await self.limits.bump(f"login:fail:{key}", p.window_s)).value >= limit:
                await self.limits.hold(f"login:lock:{key}", p.lockout_s)
                await self.limits.forget([f"login:fail:{key}"])
                locked = locked or key == account
        return locked

    async def succeeded(self, email: str, address: str | None) -> None:
        account, addr = self._keys(email, address)
        await self.limits.forget([f"login:fail:{account}"])
        await self.limits.hold(f"login:ok:{addr}", TRUST_S)

    async def refuse(self, exc: RateLimited) -> NoReturn:
        if self._paused < self.max_paused:
            self._paused += 1
            try:
                await asyncio.sleep(self.pause_s)
            finally:
                self._paused -= 1
        raise exc
