"""Limits in this process (bus.url = "memory://", one worker). Also what
limits_redis.RedisLimits falls back to while Redis does not answer."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from dispatch.ports.limits import Count, Taken

SWEEP_EVERY = 4096  # writes between two passes that drop expired keys


class MemoryLimits:
    shared = False

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        # key -> (expires at, on `clock`; a count, or the members taken)
        self._entries: dict[str, tuple[float, int | set[str]]] = {}
        self._writes = 0

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        self._entries.clear()

    def _live(self, key: str, now: float) -> tuple[float, int | set[str]] | None:
        entry = self._entries.get(key)
        if entry is not None and entry[0] <= now:
            del self._entries[key]
            return None
        return entry

    def _wrote(self, now: float) -> None:
        self._writes += 1
        if self._writes % SWEEP_EVERY == 0:
            self._entries = {k: e for k, e in self._entries.items() if e[0] > now}

    async def read(self, keys: Sequence[str]) -> list[Count]:
        now = self._clock()
        out = []
        for key in keys:
            entry = self._live(key, now)
            if entry is None:
                out.append(Count(0, 0.0))
            else:
                value = entry[1]
                out.append(Count(len(value) if isinstance(value, set) else value, entry[0] - now))
        return out

    async def bump(self, key: str, window_s: float) -> Count:
        now = self._clock()
        entry = self._live(key, now)
        expires, value = (now + window_s, 0) if entry is None else entry
        count = (len(value) if isinstance(value, set) else value) + 1
        self._entries[key] = (expires, count)
        self._wrote(now)
        return Count(count, expires - now)

    async def hold(self, key: str, seconds: float) -> None:
        now = self._clock()
        self._entries[key] = (now + seconds, 1)
        self._wrote(now)

    async def take(self, key: str, member: str, limit: int, window_s: float) -> Taken:
        now = self._clock()
        entry = self._live(key, now)
        expires, members = (now + window_s, set()) if entry is None else entry
        if not isinstance(members, set):  # a counter under a quota's key: start afresh
            expires, members = now + window_s, set()
        if member in members:
            return Taken(True, 0.0)
        if len(members) >= limit:
            return Taken(False, expires - now)
        members.add(member)
        self._entries[key] = (expires, members)
        self._wrote(now)
        return Taken(True, 0.0)

    async def forget(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._entries.pop(key, None)
