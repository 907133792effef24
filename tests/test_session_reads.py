"""Session cache misses that arrive together are read in one query.

After a restart every socket of a reconnect storm misses the session cache
at once (bench/storm.py); each must still get its own account, or None."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from dispatch.adapters.limits_memory import MemoryLimits
from dispatch.adapters.store_sqlite import SqliteStore
from dispatch.core.model import NewUser, Session, utcnow
from dispatch.usecases.login_guard import LoginGuard, LoginPolicy
from dispatch.usecases.sessions import Sessions, token_hash


class CountingStore(SqliteStore):
    """The real SQLite store, counting its batched session reads."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.reads: list[int] = []

    async def sessions(self, token_hashes: Sequence[str], now: datetime) -> dict[str, Session]:
        self.reads.append(len(token_hashes))
        return await super().sessions(token_hashes, now)


class NoEvents:
    """Publisher of the session.ended events, which this test never makes."""

    async def publish(self, *events: object) -> None:
        raise AssertionError("no session ends here")


async def test_concurrent_misses_share_a_read_and_each_gets_its_own_account(tmp_path: Path) -> None:
    store = CountingStore(tmp_path / "db.sqlite3")
    await store.connect()
    try:
        await store.migrate()
        users = [NewUser(role="resident", email=f"r{i}@example.org", password_hash="x") for i in range(700)]
        ids = await store.add_users(users)
        expires = utcnow() + timedelta(hours=1)
        for i, uid in enumerate(ids):
            await store.add_session(token_hash(f"tok{i}"), uid, expires)
        sessions = Sessions(store, 1.0, NoEvents(), LoginGuard(MemoryLimits(), LoginPolicy()))  # type: ignore[arg-type]
        tokens = [f"tok{i}" for i in range(len(ids))] + [f"unknown{i}" for i in range(50)]
        got = await asyncio.gather(*(sessions.user_for(t) for t in tokens))
        assert [u.id if u else None for u in got] == [*ids, *[None] * 50]
        # 750 misses in one loop iteration: 500 (Sessions.READ_BATCH), then the rest
        assert store.reads == [500, 250]
        assert await sessions.user_for("tok3") == got[3]  # now from the cache: no read
        assert store.reads == [500, 250]
    finally:
        await store.close()
