"""Limits in Redis (bus.url = "redis://..."), so every worker and host
counts together: one Lua script per operation, each one round trip, keys
f"{prefix}:limits:{key}" (the bus's prefix keeps deployments and test runs
apart; the callers hash e-mails and addresses before they become keys).

`take` runs on every alert posted, so the takes that queue while one round
trip is out leave together as one pipeline (group commit, as AlertBatcher
does for the store): redis-py spends about 84 µs of CPU per lone command
and 31 µs per pipelined one (64 at a time, measured on the CI machine), a
twentieth of a core at 1,000 alerts/s. Each take is still its own script,
atomic on its own; only the transport is shared.

A limit must not turn a Redis outage into a login outage: while Redis does
not answer, each call is answered by a per-process MemoryLimits instead (the
limits then hold per worker), and Redis takes over again when it answers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from dispatch.adapters.bus_redis import _describe, _pool
from dispatch.adapters.limits_memory import MemoryLimits
from dispatch.ports.limits import Count, Taken

log = logging.getLogger(__name__)

# every key: its value (a count, or a set's size) and its PTTL in ms
_READ = """
local out = {}
for i, key in ipairs(KEYS) do
  local kind = redis.call('TYPE', key)['ok']
  local value = 0
  if kind == 'string' then value = tonumber(redis.call('GET', key)) or 0
  elseif kind == 'set' then value = redis.call('SCARD', key) end
  out[2 * i - 1] = value
  out[2 * i] = redis.call('PTTL', key)
end
return out
"""
_BUMP = """
local n = redis.call('INCR', KEYS[1])
if n == 1 or redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}
"""
# ARGV: member, limit, window in ms -> {allowed, retry after in ms}
_TAKE = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return {1, 0} end
local n = redis.call('SCARD', KEYS[1])
if n >= tonumber(ARGV[2]) then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 then ttl = tonumber(ARGV[3]) end
  return {0, ttl}
end
redis.call('SADD', KEYS[1], ARGV[1])
if n == 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return {1, 0}
"""


# takes per pipeline: a burst is cut in round trips of this many, so one
# pipeline's reply stays small (a few KB) and the first callers are not held
# behind thousands (the alerts' own group commit writes up to 256 at once)
PIPELINE_MAX = 256
# a take waiting for its pipeline: key, member, limit, window_s, its answer
_Take = tuple[str, str, int, float, "asyncio.Future[Taken]"]


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


class RedisLimits:
    shared = True

    def __init__(self, url: str, prefix: str = "dispatch") -> None:
        self._url = url
        self._prefix = f"{prefix}:limits:"
        self._redis: Redis | None = None
        self._local = MemoryLimits()
        self._failing = False
        self._takes: list[_Take] = []
        self._taker: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        if self._redis is None:
            self._redis = Redis.from_pool(_pool(self._url))
            await self._redis.ping()  # a bad URL stops start-up, as the bus does

    async def close(self) -> None:
        client, self._redis = self._redis, None
        if client is not None:
            await client.aclose()

    def _keys(self, keys: Sequence[str]) -> list[str]:
        return [self._prefix + k for k in keys]

    async def _eval(self, script: str, keys: Sequence[str], *args: Any) -> list[int] | None:
        """The script's reply, or None while Redis does not answer."""
        if self._redis is None:
            return None
        try:
            reply = await self._redis.eval(script, len(keys), *self._keys(keys), *args)
        except (RedisError, OSError) as exc:
            self._down(exc)
            return None
        self._up()
        return [int(x) for x in reply]

    def _down(self, exc: BaseException) -> None:
        if not self._failing:
            self._failing = True
            log.warning("limits: Redis does not answer, counting in this worker: %s", _describe(exc))

    def _up(self) -> None:
        if self._failing:
            self._failing = False
            log.info("limits: Redis answers again")

    async def read(self, keys: Sequence[str]) -> list[Count]:
        if not keys:
            return []
        reply = await self._eval(_READ, keys)
        if reply is None:
            return await self._local.read(keys)
        pairs = zip(reply[0::2], reply[1::2])
        return [Count(value, max(ttl, 0) / 1000) if value else Count(0, 0.0) for value, ttl in pairs]

    async def bump(self, key: str, window_s: float) -> Count:
        reply = await self._eval(_BUMP, [key], _ms(window_s))
        if reply is None:
            return await self._local.bump(key, window_s)
        return Count(reply[0], max(reply[1], 0) / 1000)

    async def hold(self, key: str, seconds: float) -> None:
        if await self._eval("redis.call('SET', KEYS[1], 1, 'PX', ARGV[1]) return {1}", [key], _ms(seconds)) is None:
            await self._local.hold(key, seconds)

    async def take(self, key: str, member: str, limit: int, window_s: float) -> Taken:
        if self._redis is None:
            return await self._local.take(key, member, limit, window_s)
        fut: asyncio.Future[Taken] = asyncio.get_running_loop().create_future()
        self._takes.append((key, member, limit, window_s, fut))
        if self._taker is None:
            self._taker = asyncio.get_running_loop().create_task(self._send_takes(), name="limits takes")
        return await fut

    async def _send_takes(self) -> None:
        """One pipeline for every take queued, then again while more queued
        during its round trip; a caller cancelled meanwhile is skipped."""
        batch: list[_Take] = []
        try:
            while self._takes:
                batch, self._takes = self._takes[:PIPELINE_MAX], self._takes[PIPELINE_MAX:]
                await self._pipeline_takes([t for t in batch if not t[4].done()])
        finally:
            self._taker = None
            for *_, fut in batch + self._takes:  # left unsettled only if this task was cancelled
                if not fut.done():
                    fut.set_exception(RuntimeError("limits stopped"))
            self._takes = []

    async def _pipeline_takes(self, batch: list[_Take]) -> None:
        if not batch:
            return
        replies: list[Any] | None = None
        if (client := self._redis) is not None:
            pipe = client.pipeline(transaction=False)
            for key, member, limit, window_s, _ in batch:
                pipe.eval(_TAKE, 1, self._prefix + key, member, limit, _ms(window_s))
            try:
                replies = await pipe.execute()
            except (RedisError, OSError) as exc:
                self._down(exc)
            else:
                self._up()
        for k, (key, member, limit, window_s, fut) in enumerate(batch):
            if replies is None:
                taken = await self._local.take(key, member, limit, window_s)
            else:
                taken = Taken(bool(int(replies[k][0])), int(replies[k][1]) / 1000)
            if not fut.done():
                fut.set_result(taken)

    async def forget(self, keys: Sequence[str]) -> None:
        if keys and await self._eval("return {redis.call('DEL', unpack(KEYS))}", keys) is None:
            await self._local.forget(keys)
