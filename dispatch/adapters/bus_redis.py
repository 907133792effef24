"""Redis pub/sub bus for several workers or hosts (bus.url = "redis://...").

Two links per bus. Publishing uses a pooled client with short timeouts and
no retries: during an outage a publish is dropped at once (the event is
already in the store). Subscriptions use one dedicated connection owned by
a reader task, which reconnects with capped backoff, re-subscribes, and only
then calls the on_reconnect callbacks so the consumer's catch-up from the
store cannot miss anything published after it.

On the wire a channel is f"{prefix}:{channel}": pub/sub ignores the db
number, so the prefix is what keeps deployments and test runs apart."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection, ConnectionPool, parse_url
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from dispatch.adapters.bus_memory import DEFAULT_MAXSIZE, Inbox
from dispatch.telemetry import metrics

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 0.5  # s; a dead host must not hold a publisher for long
SOCKET_TIMEOUT = 0.5
SUBSCRIBE_TIMEOUT = 2.0
BACKOFF_START = 0.05
BACKOFF_CAP = 1.0
HEALTH_INTERVAL = 5.0  # reader PINGs after this much silence; silence twice = dead link


# A batch of messages, each PUBLISHed on its channels, in one command:
# ARGV[1] is the key prefix, ARGV[2] a JSON array of [message, [channel, ...]].
# One argument whatever the batch: client-side command packing and reply
# parsing in redis-py cost more than the whole publish on the Redis side
# (a group-committed batch of 60 alerts is ~120 events on ~700 channels).
# Redis caches the compiled scripts. Messages that are not UTF-8 (the port
# allows any bytes; the sequencer only sends JSON) go one command each.
_PUBLISH_ALL = "for i = 2, #ARGV do redis.call('PUBLISH', ARGV[i], ARGV[1]) end return #ARGV - 1"
_PUBLISH_BATCH = """
local prefix = ARGV[1] .. ':'
local n = 0
for _, item in ipairs(cjson.decode(ARGV[2])) do
  local message = item[1]
  for _, channel in ipairs(item[2]) do
    redis.call('PUBLISH', prefix .. channel, message)
    n = n + 1
  end
end
return n
"""


def _pool(url: str) -> ConnectionPool:
    options: dict[str, Any] = {
        # Spelled out, not left to redis-py defaults: no socket timeout means
        # waiting forever on a hung server, and redis.Redis()'s own default is
        # 10 retries with backoff. We fail fast; the reader does the reconnecting.
        # Query options in the URL (e.g. ?socket_timeout=2) still win.
        "socket_connect_timeout": CONNECT_TIMEOUT,
        "socket_timeout": SOCKET_TIMEOUT,
        "retry": Retry(NoBackoff(), 0),
        "health_check_interval": 0,
        **parse_url(url),
        # RESP2 whatever the URL says: the reader parses plain arrays of
        # bytes, and RESP3 would add handshakes (HELLO, maintenance
        # notifications) to every reconnect for nothing the bus uses.
        "protocol": 2,
        "decode_responses": False,
    }
    return ConnectionPool(**options)


def _describe(exc: BaseException) -> str:
    # redis-py 8's repr() of its errors drops the message ("network:ConnectionError").
    return f"{type(exc).__name__}: {exc}"


class RedisBus:
    shared = True  # other processes see what we publish

    def __init__(
        self,
        url: str,
        prefix: str = "dispatch",
        *,
        maxsize: int = DEFAULT_MAXSIZE,
        health_interval: float = HEALTH_INTERVAL,
    ) -> None:
        self.prefix = prefix
        self._url = url
        self._wire_prefix = f"{prefix}:".encode()
        self._health_interval = health_interval
        self._channels: set[str] = set()  # what we want; the reader makes Redis match it
        self._inbox = Inbox(self._channels, maxsize)
        self._callbacks: list[Callable[[], None]] = []
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._pub: Redis | None = None
        self._sub_pool: ConnectionPool | None = None
        self._link: AbstractConnection | None = None  # the live subscriber connection, None while down
        self._reader: asyncio.Task[None] | None = None
        self._closed = False
        self._publish_failing = False
        self.publish_dropped = 0

    @property
    def dropped(self) -> int:
        """Messages lost: failed publishes plus inbox overflow."""
        return self.publish_dropped + self._inbox.dropped

    # lifecycle

    async def connect(self) -> None:
        """Open both links. Fails loudly if Redis is unreachable now (a bad
        URL should stop start-up); losses after this are retried forever."""
        if self._reader is not None:
            return
        self._pub = Redis.from_pool(_pool(self._url))  # from_pool: aclose() closes the pool too
        self._sub_pool = _pool(self._url)  # only a factory for the reader's connection
        try:
            link = await self._open_link()
        except BaseException:
            await self._pub.aclose()
            raise
        # Set before the reader starts so a subscribe() right after connect()
        # goes to Redis and waits for its confirmation.
        self._link = link
        self._reader = asyncio.create_task(self._run(link), name=f"bus-reader:{self.prefix}")

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        task, self._reader = self._reader, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task})  # unlike `await task`, our own cancellation still propagates
            if not task.cancelled() and task.exception() is not None:
                log.error("bus reader failed", exc_info=task.exception())
        # A reader cancelled before its first step never ran its finally.
        link, self._link = self._link, None
        if link is not None:
            await link.disconnect(nowait=True)
        self._release_waiters()
        self._inbox.close()
        if self._pub is not None:
            await self._pub.aclose()

    async def ping(self) -> None:
        """Raise unless Redis answers and our subscriber link is up."""
        if self._pub is None or self._closed:
            raise RedisConnectionError("bus is not connected")
        await self._pub.ping()
        if self._link is None:
            raise RedisConnectionError("bus subscriber link is down, reconnecting")

    # traffic

    async def publish_batch(self, batch: Sequence[tuple[Sequence[str], bytes]]) -> None:
        """Several messages, each on its channels, in one round trip. Bounded
        by the socket timeouts (no retries), never raises."""
        count = sum(len(channels) for channels, _ in batch)
        if self._pub is None or self._closed:
            self.publish_dropped += count
            return
        try:
            try:
                # UTF-8 text travels as JSON strings and comes out of cjson byte for byte
                payload = orjson.dumps([(message.decode(), list(channels)) for channels, message in batch])
            except UnicodeDecodeError:
                pipe = self._pub.pipeline(transaction=False)
                for channels, message in batch:
                    pipe.eval(_PUBLISH_ALL, 0, message, *(self._wire(c) for c in channels))
                await pipe.execute()
            else:
                await self._pub.eval(_PUBLISH_BATCH, 0, self.prefix, payload)
        except Exception as exc:
            self.publish_dropped += count
            metrics.bus_error("publish", "redis")
            if not self._publish_failing:
                self._publish_failing = True
                log.warning("bus publish failed, dropping until Redis answers: %s", _describe(exc))
            return
        if self._publish_failing:
            self._publish_failing = False
            log.info("bus publish works again (%d dropped so far)", self.publish_dropped)

    async def subscribe(self, channel: str) -> None:
        """Return once Redis confirms, so a publish that follows cannot race
        the SUBSCRIBE. If the link is down, return at once: the reader
        subscribes on reconnect, then calls on_reconnect."""
        if self._closed:
            return
        self._channels.add(channel)
        link = self._link
        # is_connected: never let send_command() reconnect the reader's link from here.
        if link is None or not link.is_connected:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(channel, []).append(waiter)
        try:
            await link.send_command("SUBSCRIBE", self._wire(channel), check_health=False)
            await asyncio.wait_for(waiter, SUBSCRIBE_TIMEOUT)
        except Exception as exc:
            log.debug("bus subscribe %r not confirmed: %s", channel, _describe(exc))
            metrics.bus_error("subscribe", "redis")
        finally:
            pending = self._waiters.get(channel)
            if pending and waiter in pending:
                pending.remove(waiter)

    async def unsubscribe(self, channel: str) -> None:
        # Removing it from _channels is what stops delivery (the inbox checks
        # it); UNSUBSCRIBE only saves Redis the traffic, so no need to wait.
        self._channels.discard(channel)
        link = self._link
        if self._closed or link is None or not link.is_connected:
            return
        try:
            await link.send_command("UNSUBSCRIBE", self._wire(channel), check_health=False)
        except Exception as exc:
            log.debug("bus unsubscribe %r not sent: %s", channel, _describe(exc))

    def messages(self) -> AsyncIterator[tuple[str, bytes]]:
        return self._inbox.messages()

    def on_reconnect(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)

    # the reader task

    async def _run(self, link: AbstractConnection | None) -> None:
        delay = BACKOFF_START
        reconnecting = False
        down_since: float | None = None

        def subscribed() -> None:
            # Only a link that got as far as answering the barrier PING counts
            # as restored: one that connects and dies at once keeps backing off.
            nonlocal delay, down_since
            delay = BACKOFF_START
            if down_since is not None:
                log.info("bus subscriber link back after %.1fs", time.monotonic() - down_since)
                down_since = None
            if reconnecting:
                self._fire_reconnect()

        while True:
            try:
                if link is None:
                    link = await self._open_link()
                await self._session(link, subscribed)
            except Exception as exc:
                metrics.bus_error("link", "redis")
                if down_since is None:  # one warning per outage, not per attempt
                    down_since = time.monotonic()
                    log.warning("bus subscriber link lost, reconnecting: %s", _describe(exc))
                else:
                    log.debug("bus reconnect failed: %s", _describe(exc))
            finally:
                self._link = None
                self._release_waiters()
                if link is not None:
                    await link.disconnect(nowait=True)
                link = None
            reconnecting = True
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_CAP)

    async def _session(self, link: AbstractConnection, subscribed: Callable[[], None]) -> None:
        """Subscribe to every wanted channel, call `subscribed` once Redis has
        applied that, then read until the link fails."""
        self._link = link
        wanted = [self._wire(c) for c in self._channels]
        if wanted:
            await link.send_command("SUBSCRIBE", *wanted, check_health=False)
        # Redis answers in order: this PING's reply means every SUBSCRIBE above is active.
        await link.send_command("PING", check_health=False)
        ready = False
        pinged = False
        while True:
            try:
                reply = await link.read_response(timeout=self._health_interval)
            except ResponseError as exc:  # e.g. an ACL refusing a channel: the link is fine
                log.error("bus: Redis refused a command: %s", exc)
                metrics.bus_error("refused", "redis")
                continue
            if reply is None:  # silent for a whole interval
                if pinged:
                    raise RedisConnectionError(f"no reply to PING within {self._health_interval}s")
                await link.send_command("PING", check_health=False)
                pinged = True
                continue
            pinged = False
            kind = reply[0] if isinstance(reply, list) and reply else reply
            if kind == b"message":
                channel = self._unwire(reply[1])
                if channel is not None:
                    self._inbox.put(channel, reply[2])
            elif kind == b"subscribe":
                self._confirm(reply[1])
            elif kind in (b"pong", b"PONG") and not ready:  # lower case list form when subscribed
                ready = True
                subscribed()

    async def _open_link(self) -> AbstractConnection:
        # Not pool.get_connection(): the link is ours alone for its whole
        # life, the pool must never health-check it or hand it out.
        assert self._sub_pool is not None
        link: AbstractConnection = self._sub_pool.make_connection()  # type: ignore[no-untyped-call]
        try:
            await link.connect()  # type: ignore[no-untyped-call]
        except BaseException:
            await link.disconnect(nowait=True)
            raise
        return link

    def _confirm(self, wire_channel: bytes) -> None:
        channel = self._unwire(wire_channel)
        for waiter in self._waiters.pop(channel, []) if channel is not None else []:
            if not waiter.done():
                waiter.set_result(None)

    def _release_waiters(self) -> None:
        # Link gone: subscribe() callers stop waiting; the reconnect covers them.
        waiters, self._waiters = self._waiters, {}
        for pending in waiters.values():
            for waiter in pending:
                if not waiter.done():
                    waiter.set_result(None)

    def _fire_reconnect(self) -> None:
        for callback in list(self._callbacks):
            try:
                callback()
            except Exception:
                log.exception("bus on_reconnect callback failed")

    def _wire(self, channel: str) -> str:
        return f"{self.prefix}:{channel}"

    def _unwire(self, wire_channel: bytes) -> str | None:
        if not wire_channel.startswith(self._wire_prefix):
            return None
        try:
            return wire_channel[len(self._wire_prefix) :].decode()
        except UnicodeDecodeError:  # not one of ours: we only subscribe to str names
            return None
