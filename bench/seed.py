"""Bench accounts, written straight into the product's store.

`dispatch user add` costs an Argon2 hash and a process start per account;
thousands of residents go in through the Store port instead, with ONE
precomputed hash shared by every bench account, and sessions whose tokens
we generate (the store keeps only their SHA-256, like a real login)."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import asyncpg

ADMIN_DB = "postgres"


async def seed_store(
    url: str, homes: Sequence[tuple[float, float, str | None]], tag: str, pool_size: int = 10
) -> list[str]:
    """Creates one validated resident per home and a session for each;
    returns their bearer tokens, in the order of `homes`."""
    from dispatch.adapters import open_store
    from dispatch.core.model import NewUser, utcnow
    from dispatch.usecases.sessions import hash_password, token_hash

    store = open_store(url, pool_size)
    await store.connect()
    try:
        await store.migrate()
        pw = hash_password(secrets.token_urlsafe(12))
        users = [
            NewUser(
                role="resident",
                email=f"bench-{tag}-{i}@example.org",
                password_hash=pw,
                name="",
                home_lat=lat,
                home_lon=lon,
                home_sector=sector,
            )
            for i, (lat, lon, sector) in enumerate(homes)
        ]
        ids: list[int] = []
        for k in range(0, len(users), 5000):
            ids.extend(await store.add_users(users[k : k + 5000]))
        tokens = [secrets.token_urlsafe(24) for _ in ids]
        expires = utcnow() + timedelta(days=1)
        sem = asyncio.Semaphore(pool_size)

        async def one(tok: str, uid: int) -> None:
            async with sem:
                await store.add_session(token_hash(tok), uid, expires)

        await asyncio.gather(*(one(t, u) for t, u in zip(tokens, ids)))
        return tokens
    finally:
        await store.close()


async def seed_notify(
    url: str,
    homes: Sequence[tuple[float, float, str | None]],
    tag: str,
    channels: Sequence[str],
    subscriptions: Sequence[tuple[str, str, str]] = (),
) -> list[tuple[int, str, str]]:
    """Validated residents at `homes` who opted in to `channels` for every
    broadcast level, each with a phone and, when `subscriptions` (endpoint,
    p256dh, auth) are given, the one of the same index. Settings and
    subscriptions go in with one executemany each (what PUT
    /api/me/notifications and POST /api/me/push-subscriptions store, without
    10,000 requests). Returns (user id, e-mail, phone) in the order of `homes`."""
    from dispatch.adapters import open_store
    from dispatch.adapters.dialect import Sql
    from dispatch.adapters.store_common import dumps
    from dispatch.adapters.store_outbox import PUT_SETTINGS, SET_PHONE
    from dispatch.core.model import BROADCAST_LEVELS, NewUser, utcnow
    from dispatch.usecases.sessions import hash_password

    store: Any = open_store(url, 2)
    await store.connect()
    try:
        await store.migrate()
        pw = hash_password(secrets.token_urlsafe(12))
        users = [
            NewUser(
                role="resident",
                email=f"notify-{tag}-{i}@example.org",
                password_hash=pw,
                home_lat=lat,
                home_lon=lon,
                home_sector=sector,
                phone=f"+3367{i:07d}",
            )
            for i, (lat, lon, sector) in enumerate(homes)
        ]
        ids: list[int] = []
        for k in range(0, len(users), 5000):
            ids.extend(await store.add_users(users[k : k + 5000]))
        lists = (dumps(list(channels)), dumps(list(BROADCAST_LEVELS)), dumps([]))
        async with store._write_tx() as tx:  # the bench's shortcut past the HTTP edge
            d = tx.dialect
            now = d.ts_param(utcnow())
            await tx.execute_many(PUT_SETTINGS.on(d), [(uid, *lists, now) for uid in ids])
            await tx.execute_many(SET_PHONE.on(d), [(u.phone, uid) for uid, u in zip(ids, users)])  # add_users has none
            if subscriptions:
                insert = "INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth, created_at) VALUES (?, ?, ?, ?, ?)"
                rows = [(uid, *sub, now) for uid, sub in zip(ids, subscriptions)]
                await tx.execute_many(Sql(insert).on(d), rows)
        return [(uid, u.email, u.phone or "") for uid, u in zip(ids, users)]
    finally:
        await store.close()


class PgDatabase:
    """A fresh database on the local PostgreSQL, dropped afterwards."""

    def __init__(self, server: str = "postgresql://postgres@127.0.0.1:5432") -> None:
        self.server = server.rstrip("/")
        self.name = f"bench_{uuid.uuid4().hex[:12]}"

    @property
    def url(self) -> str:
        return f"{self.server}/{self.name}"

    async def create(self) -> str:
        conn = await asyncpg.connect(f"{self.server}/{ADMIN_DB}")
        try:
            await conn.execute(f'CREATE DATABASE "{self.name}"')
        finally:
            await conn.close()
        return self.url

    async def drop(self) -> None:
        conn = await asyncpg.connect(f"{self.server}/{ADMIN_DB}")
        try:
            # FORCE (PostgreSQL 13+) ends the sessions a killed server may have left
            await conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        finally:
            await conn.close()


async def drop_redis_prefix(url: str, prefix: str) -> int:
    """Deletes any key the bus left under our unique prefix (pub/sub leaves none today)."""
    from redis.asyncio import Redis

    r = Redis.from_url(url)
    try:
        keys = [k async for k in r.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await r.delete(*keys)
        return len(keys)
    finally:
        await r.aclose()
