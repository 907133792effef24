"""Accounts, sessions and the checks every route and socket makes.

Passwords: Argon2id (argon2-cffi's defaults, RFC 9106's second recommended
profile), verified in a thread because a verify costs about 0.1 s of CPU
and must not freeze the event loop, behind a gate (hash_gate) that bounds
how many run at once and serves clean logins first, after a check of the
failed-login counters (login_guard) that refuses locked accounts and
throttled addresses before any hashing. Sessions: a random token; the store
keeps only its SHA-256, so a leaked database holds no usable token. Desk
sessions (staff) expire after `idle_minutes` unused; a wall session (asked
for at login, staff only) is read-only and does not."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Collection, Iterable, Mapping
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from dispatch.core.audit import entry
from dispatch.core.model import Session, User, utcnow
from dispatch.core.validation import InputError, RateLimited
from dispatch.ports.publisher import Publisher
from dispatch.ports.store import Store
from dispatch.usecases.hash_gate import HashGate, default_slots
from dispatch.usecases.login_guard import LoginGuard

_hasher = PasswordHasher()
# verified against when the email is unknown, so both paths cost the same
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    # A short cache keeps the store off the hot path of every request. A
    # session ended through end_user/end_token is forgotten at once on every
    # worker (the session.ended event); one that merely expires stays usable
    # for at most TTL seconds.
    CACHE_TTL = 10.0
    CACHE_SIZE = 50_000
    TOUCH_EVERY = timedelta(minutes=1)  # last use is written at most this often
    # Cache misses waiting together are read in one query (Store.sessions), at
    # most this many: after a restart every socket of a reconnect storm misses,
    # and one query per socket was the largest store cost of its handshakes
    # (bench/storm.py). 500 keeps a query's parameter list and its rows small.
    READ_BATCH = 500

    def __init__(
        self,
        store: Store,
        ttl_hours: float,
        publisher: Publisher,
        guard: LoginGuard,
        *,
        idle_minutes: float = 0,
        gate: HashGate | None = None,
    ) -> None:
        """idle_minutes: a desk session (staff, not a wall's) unused for
        that long is refused; 0 turns the idle timeout off."""
        self.store = store
        self.publisher = publisher
        self.ttl = timedelta(hours=ttl_hours)
        self.guard = guard
        self.gate = gate or HashGate(*default_slots())
        self.idle = timedelta(minutes=idle_minutes) if idle_minutes > 0 else None
        self._touch_every = min(self.TOUCH_EVERY, self.idle / 10) if self.idle else self.TOUCH_EVERY
        self._cache: OrderedDict[str, tuple[float, Session]] = OrderedDict()
        self._misses: dict[str, asyncio.Future[Session | None]] = {}
        self._reading: asyncio.Task[None] | None = None

    async def login(
        self, email: str, password: str, address: str | None = None, wall: bool = False
    ) -> tuple[str, User]:
        """401 for a wrong e-mail or password, 429 for a locked account, a
        throttled address or too many logins at once (login_guard, hash_gate)."""
        async with self.guard.attempt(email, address) as lane:
            user = await self.store.user_by_email(email)
            try:
                ok = await self.gate.run(lane, _verify, user.password_hash if user else _DUMMY_HASH, password)
            except RateLimited as exc:
                await self.guard.refuse(exc)
        if user is None or not ok:
            if await self.guard.failed(email, address) and user is not None:
                # the lock itself lives in Limits, not the store: this entry is its only durable trace
                await self.store.record_audit([entry("account.lockout", "account", user.id, None)])
            raise InputError(401, "bad_credentials", "unknown email or wrong password")
        await self.guard.succeeded(email, address)
        if wall and not user.is_staff:
            raise InputError(403, "forbidden", "a wall session is for staff accounts")
        token = secrets.token_urlsafe(32)
        await self.store.add_session(token_hash(token), user.id, utcnow() + self.ttl, wall)
        return token, user

    async def password_matches(self, user: User, password: str, address: str | None) -> bool:
        """The password entered again before an erasure: checked as a login
        is (the failed-login counters and the hashing gate), so a stolen
        session cannot guess it faster than the login can."""
        async with self.guard.attempt(user.email, address) as lane:
            try:
                ok = await self.gate.run(lane, _verify, user.password_hash, password)
            except RateLimited as exc:
                await self.guard.refuse(exc)
        if not ok:
            await self.guard.failed(user.email, address)
        return ok

    async def session_for(self, token: str | None, fresh: bool = False) -> Session | None:
        """The live session of this token: None if unknown, expired, or a
        desk session idle for longer than the idle timeout. `fresh`: read
        from the store, past this worker's cache."""
        if not token:
            return None
        key = token_hash(token)
        now = time.monotonic()
        hit = None if fresh else self._cache.get(key)
        if hit is not None and hit[0] > now:
            expires, session = hit
        else:
            found = await self._read(key)
            if found is None:
                self._cache.pop(key, None)
                return None
            expires, session = now + self.CACHE_TTL, found
            self._cache[key] = (expires, session)
            self._cache.move_to_end(key)
            while len(self._cache) > self.CACHE_SIZE:
                self._cache.popitem(last=False)
        if self.idle is None or session.wall or not session.user.is_staff:
            return session
        return await self._still_active(key, expires, session, self.idle)

    async def _read(self, key: str) -> Session | None:
        """The stored session: misses that come while a read runs wait for
        the next read, together (group lookup, like the alerts' group commit)."""
        waiting = self._misses.get(key)
        if waiting is None:
            waiting = self._misses[key] = asyncio.get_running_loop().create_future()
            # a failure reaches every waiter; none may be left unretrieved
            waiting.add_done_callback(lambda f: f.cancelled() or f.exception())
            if self._reading is None:
                self._reading = asyncio.get_running_loop().create_task(self._read_misses())
        return await asyncio.shield(waiting)

    async def _read_misses(self) -> None:
        batch: dict[str, asyncio.Future[Session | None]] = {}
        try:
            while self._misses:
                batch = {}
                for key in list(self._misses)[: self.READ_BATCH]:
                    batch[key] = self._misses.pop(key)
                try:
                    found = await self.store.sessions(list(batch), utcnow())
                except Exception as exc:
                    for waiting in batch.values():
                        waiting.set_exception(exc)
                    continue
                for key, waiting in batch.items():
                    waiting.set_result(found.get(key))
        finally:  # cancelled (shutdown): nobody may wait for a read that will not come
            self._reading = None
            for waiting in [*batch.values(), *self._misses.values()]:
                if not waiting.done():
                    waiting.cancel()
            self._misses.clear()

    async def _still_active(self, key: str, expires: float, session: Session, limit: timedelta) -> Session | None:
        at = utcnow()
        idle = at - session.last_used_at
        if idle > limit:
            self._cache.pop(key, None)
            return None
        if idle > self._touch_every:
            await self.store.touch_session(key, at)
            session = dataclasses.replace(session, last_used_at=at)
            self._cache[key] = (expires, session)
        return session

    async def user_for(self, token: str | None) -> User | None:
        session = await self.session_for(token)
        return None if session is None else session.user

    async def end_user(self, user_id: int, code: int) -> None:
        """End every session of the account, on every worker: the store
        forgets them, each worker's cache too, and the account's sockets
        close with `code` (the hub, on the session.ended event)."""
        await self.publisher.publish(await self.store.end_sessions(user_id, None, code, utcnow()))

    async def end_token(self, token: str, code: int) -> None:
        """End one session (logout), on every worker; sockets opened with it close."""
        key = token_hash(token)
        user = await self.user_for(token)
        if user is not None:
            await self.publisher.publish(await self.store.end_sessions(user.id, key, code, utcnow()))
        self._cache.pop(key, None)

    def forget(self, user_id: int, session: str | None) -> None:
        """Drop cached sessions: that one, or all of the account's."""
        if session is not None:
            self._cache.pop(session, None)
            return
        for key in [k for k, (_, s) in self._cache.items() if s.user.id == user_id]:
            del self._cache[key]


def credentials(headers: Mapping[str, str], cookies: Mapping[str, str], cookie: str) -> tuple[str | None, bool]:
    """(token, from_cookie). A bearer header wins over the cookie, named
    `cookie` (Settings.session_cookie: __Host-... over https)."""
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None, False
    token = cookies.get(cookie)
    return (token, True) if token else (None, False)


def origin_allowed(origin: str | None, allowed: Collection[str]) -> bool:
    """docs/reference.md: a request without Origin is not a browser and is
    judged by its credentials alone; a browser's Origin must be one of
    `allowed` (Settings.browser_origins: configured, never the Host header
    the client sends, which anyone can write)."""
    if origin is None:
        return True
    return origin.strip().rstrip("/").lower() in allowed


def require_role(user: User | None, roles: Iterable[str]) -> User:
    if user is None:
        raise InputError(401, "unauthenticated", "log in first: send Authorization: Bearer <token>")
    if user.role not in roles:
        raise InputError(403, "forbidden", f"the {user.role} role cannot do this")
    return user
