"""What one account may do per window: alerts and flags per resident
(limits.alerts_per_window, limits.flags_per_window in limits.window_minutes,
over the Limits port, so every worker counts together when the deployment
has Redis), and open sockets per account (limits.sockets_per_account,
counted in this worker: a socket lives in one process, and a count there
can never outlive it).

An alert retried with the same client_id counts once: the quota counts
distinct members per window, and an alert's member is its client_id."""

from __future__ import annotations

import random
from collections import Counter

from dispatch.core.validation import RateLimited
from dispatch.ports.limits import Limits

SOCKET_RETRY_S = 10  # Retry-After of a refused handshake: a slot frees when a socket closes


class Quotas:
    def __init__(
        self, limits: Limits, alerts_per_window: int, flags_per_window: int, window_s: float, sockets_per_account: int
    ) -> None:
        self.limits = limits
        self.alerts_per_window = alerts_per_window
        self.flags_per_window = flags_per_window
        self.window_s = window_s
        self.sockets_per_account = sockets_per_account
        self._sockets: Counter[int] = Counter()

    async def alert(self, user_id: int, client_id: str | None) -> None:
        """Count one alert of this resident, or raise RateLimited (429)."""
        # without a client_id every alert is a member of its own; it only has to
        # differ from the others (no syscall for entropy, as for request ids)
        member = f"c:{client_id}" if client_id is not None else f"n:{random.getrandbits(64):016x}"
        taken = await self.limits.take(f"alerts:{user_id}", member, self.alerts_per_window, self.window_s)
        if not taken.allowed:
            raise RateLimited(
                taken.retry_after_s,
                f"at most {self.alerts_per_window} alerts every {self.window_s / 60:g} minutes: try again later",
            )

    async def flag(self, user_id: int, alert_id: int) -> None:
        """Count one flag of this resident on this alert, or raise
        RateLimited (429). A second flag of one alert counts once (the route
        answers 409 for it anyway)."""
        taken = await self.limits.take(f"flags:{user_id}", str(alert_id), self.flags_per_window, self.window_s)
        if not taken.allowed:
            raise RateLimited(
                taken.retry_after_s,
                f"at most {self.flags_per_window} flags every {self.window_s / 60:g} minutes: try again later",
            )

    def open_socket(self, user_id: int) -> None:
        """Count one more open socket of this account in this worker, or
        raise RateLimited; every successful call needs its close_socket()."""
        if self._sockets[user_id] >= self.sockets_per_account:
            raise RateLimited(SOCKET_RETRY_S, f"at most {self.sockets_per_account} open streams per account")
        self._sockets[user_id] += 1

    def close_socket(self, user_id: int) -> None:
        self._sockets[user_id] -= 1
        if self._sockets[user_id] <= 0:
            del self._sockets[user_id]

    def open_sockets(self, user_id: int) -> int:
        return self._sockets[user_id]
