"""Accounts, sessions and the checks every route and socket makes.

Passwords: Argon2id (argon2-cffi's defaults, RFC 9106's second recommended
profile), verified in a thread because a verify costs tens of milliseconds
of CPU and must not freeze the event loop. Sessions: a random token; the
store keeps only its SHA-256, so a leaked database holds no usable token."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from dispatch.core.model import User, utcnow
from dispatch.core.validation import InputError
from dispatch.ports.publisher import Publisher
from dispatch.ports.store import Store

COOKIE = "dispatch_session"
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

    def __init__(self, store: Store, ttl_hours: float, publisher: Publisher) -> None:
        self.store = store
        self.publisher = publisher
        self.ttl = timedelta(hours=ttl_hours)
        self._cache: OrderedDict[str, tuple[float, User]] = OrderedDict()

    async def login(self, email: str, password: str) -> tuple[str, User]:
        user = await self.store.user_by_email(email)
        ok = await asyncio.to_thread(_verify, user.password_hash if user else _DUMMY_HASH, password)
        if user is None or not ok:
            raise InputError(401, "bad_credentials", "unknown email or wrong password")
        token = secrets.token_urlsafe(32)
        await self.store.add_session(token_hash(token), user.id, utcnow() + self.ttl)
        return token, user

    async def user_for(self, token: str | None) -> User | None:
        if not token:
            return None
        key = token_hash(token)
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        user = await self.store.session_user(key, utcnow())
        if user is not None:
            self._cache[key] = (now + self.CACHE_TTL, user)
            self._cache.move_to_end(key)
            while len(self._cache) > self.CACHE_SIZE:
                self._cache.popitem(last=False)
        return user

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
        for key in [k for k, (_, u) in self._cache.items() if u.id == user_id]:
            del self._cache[key]


def credentials(headers: Mapping[str, str], cookies: Mapping[str, str]) -> tuple[str | None, bool]:
    """(token, from_cookie). A bearer header wins over the cookie."""
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None, False
    token = cookies.get(COOKIE)
    return (token, True) if token else (None, False)


def origin_allowed(origin: str | None, host: str | None, allowed: Iterable[str]) -> bool:
    """docs/reference.md: a request without Origin is not a browser and is judged by
    its credentials alone; a browser's Origin must be ours or allowlisted."""
    if origin is None:
        return True
    origin = origin.rstrip("/").lower()
    if origin in (a.rstrip("/").lower() for a in allowed):
        return True
    return host is not None and origin in (f"http://{host}".lower(), f"https://{host}".lower())


def require_role(user: User | None, roles: Iterable[str]) -> User:
    if user is None:
        raise InputError(401, "unauthenticated", "log in first: send Authorization: Bearer <token>")
    if user.role not in roles:
        raise InputError(403, "forbidden", f"the {user.role} role cannot do this")
    return user
