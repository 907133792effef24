"""Store on one SQLite file (aiosqlite): WAL, synchronous=FULL, one connection.

Every operation, reads included, holds `self._lock`: aiosqlite runs one
connection's statements one at a time anyway, and a read slipped between the
statements of a write transaction on this same connection would see its
uncommitted rows (an event not yet durable, or one about to be rolled back).
Writes use BEGIN IMMEDIATE, so other processes on the same file queue on
busy_timeout rather than failing half-way; one writer at a time is what keeps
event seqs gapless and committed in order. A lock still held by another
process after busy_timeout, and the file's I/O errors, come out as
StoreUnavailable (`_read`)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import aiosqlite

from dispatch.adapters import migrations
from dispatch.adapters import store_sql as sql
from dispatch.adapters.audit_sql import append_audit, created_entries
from dispatch.adapters.batcher import AlertBatcher
from dispatch.adapters.dialect import SQLITE
from dispatch.adapters.store_base import SqlStore
from dispatch.adapters.store_common import (
    Draft,
    check_duplicates,
    circle_json,
    home_changes,
    norm_email,
    polygon_json,
    provisional_alert,
    sectors_json,
    to_utc,
    ts_text,
    user_record,
)
from dispatch.adapters.store_outbox import enqueue_fanout
from dispatch.adapters.store_sqlite_sql import (
    INSERT_BROADCAST,
    INSERT_USERS,
    MAX_ALERT_BATCH,
    SET_HOME_SECTOR,
    USER_CHUNK,
    USER_ROW,
    SqliteTx,
    append_events,
    existing_alerts,
    insert_fresh,
)
from dispatch.core.audit import AuditEntry
from dispatch.core.model import (
    Broadcast,
    Created,
    Event,
    NewAlert,
    NewBroadcast,
    NewUser,
    utcnow,
)
from dispatch.core.views import broadcast_view
from dispatch.ports.grouping import Grouping
from dispatch.ports.store import StoreUnavailable

BUSY_TIMEOUT_MS = 10_000
# SQLite's primary result codes (sqlite3 gives the extended code; the low
# byte is the primary one) that say the file cannot be used now, not that
# the statement is wrong: BUSY, LOCKED, NOMEM, IOERR, FULL, CANTOPEN, PROTOCOL.
UNAVAILABLE_CODES = frozenset({5, 6, 7, 10, 13, 14, 15})


def unavailable(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in UNAVAILABLE_CODES


class SqliteStore(SqlStore):
    dialect = SQLITE
    unique_violation = (sqlite3.IntegrityError,)

    def __init__(self, path: str | Path, grouping: Grouping | None = None) -> None:
        super().__init__(grouping)
        self.path = Path(path)
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._batcher = AlertBatcher(self._insert_alerts, (sqlite3.DatabaseError,), MAX_ALERT_BATCH)

    # -- lifecycle ----------------------------------------------------------

    async def connect(self) -> None:
        if self._db is not None:
            return
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(str(self.path), isolation_level=None)
        try:
            db.row_factory = sqlite3.Row
            await db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            ((mode,),) = await db.execute_fetchall("PRAGMA journal_mode = WAL")
            if mode != "wal" and str(self.path) != ":memory:":
                raise RuntimeError(f"{self.path}: SQLite refused WAL mode (journal_mode={mode})")
            await db.execute("PRAGMA synchronous = FULL")
            await db.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            await db.close()
            raise
        self._db = db

    async def close(self) -> None:
        await self._batcher.drain()
        db, self._db = self._db, None
        if db is not None:
            async with self._lock:
                await db.close()

    async def migrate(self) -> list[int]:
        async with self._read() as db:
            return await migrations.migrate_sqlite(db, ts_text(utcnow()))

    async def ping(self) -> None:
        async with self._read() as db:
            await db.execute_fetchall("SELECT 1")

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            if self._db is None:
                raise RuntimeError("SqliteStore is not connected")
            try:
                yield self._db
            except sqlite3.Error as exc:
                if not unavailable(exc):
                    raise
                raise StoreUnavailable(f"SQLite cannot be used now ({exc.sqlite_errorname})") from exc

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction; rolled back if the body raises."""
        async with self._read() as db:
            try:
                await db.execute("BEGIN IMMEDIATE")
                yield db
                await db.execute("COMMIT")
            except BaseException:
                # Unconditional: aiosqlite runs statements in order, so this
                # comes after a BEGIN or statement whose await was cancelled
                # but which still runs. "No transaction is active" is fine.
                with contextlib.suppress(sqlite3.OperationalError):
                    await db.execute("ROLLBACK")
                raise

    @asynccontextmanager
    async def _write_tx(self) -> AsyncIterator[SqliteTx]:
        async with self._write() as db:
            yield SqliteTx(db)

    @asynccontextmanager
    async def _read_tx(self) -> AsyncIterator[SqliteTx]:
        async with self._read() as db:
            yield SqliteTx(db)

    # -- accounts -----------------------------------------------------------

    async def add_users(self, users: Sequence[NewUser]) -> list[int]:
        check_duplicates(users, set())
        if not users:
            return []
        emails = [norm_email(u.email) for u in users]
        created_at = utcnow()
        created = ts_text(created_at)
        async with self._write() as db:
            taken = await db.execute_fetchall(sql.TAKEN_EMAILS.on(SQLITE), (SQLITE.list_param(emails),))
            check_duplicates(users, {r["email"] for r in taken})
            ids: dict[str, int] = {}
            for start in range(0, len(users), USER_CHUNK):
                chunk = users[start : start + USER_CHUNK]
                rows = await db.execute_fetchall(
                    INSERT_USERS + ", ".join([USER_ROW] * len(chunk)) + " RETURNING id, email",
                    [v for u in chunk for v in (*user_record(u), created)],
                )
                ids.update((r["email"], r["id"]) for r in rows)
            await append_audit(SqliteTx(db), *created_entries(ids.values(), created_at))
        return [ids[e] for e in emails]

    async def add_session(self, token_hash: str, user_id: int, expires_at: datetime, wall: bool = False) -> None:
        async with self._write() as db:
            now = ts_text(utcnow())
            await db.execute(sql.ADD_SESSION.on(SQLITE), (token_hash, user_id, now, ts_text(expires_at), now, wall))

    async def set_home_sectors(self, assign: Callable[[float, float], str | None]) -> int:
        async with self._write() as db:
            rows = await db.execute_fetchall(sql.HOMES.on(SQLITE))
            changes = home_changes(list(rows), assign)
            if changes:
                await db.executemany(SET_HOME_SECTOR, [(s, i) for i, s in changes])
        return len(changes)

    # -- alerts and broadcasts ---------------------------------------------

    async def create_alert_grouped(self, new: NewAlert) -> Created:
        if self._db is None:
            raise RuntimeError("SqliteStore is not connected")
        return await self._batcher.submit(new)

    async def _insert_alerts(self, batch: Sequence[NewAlert]) -> list[Created]:
        """One write transaction for the batch (keys are distinct: AlertBatcher)."""
        out: list[Created | None] = [None] * len(batch)
        async with self._write() as db:
            for i, alert in (await existing_alerts(db, batch)).items():
                out[i] = Created(alert, [])
            fresh = [(i, provisional_alert(n)) for i, n in enumerate(batch) if out[i] is None]
            if fresh:
                created, events, extra, queued = await self._created(SqliteTx(db), batch, await insert_fresh(db, fresh))
                for k, ((i, alert), event) in enumerate(zip(created, events)):
                    out[i] = Created(alert, [event, *(extra if k == len(created) - 1 else [])], queued.get(i, 0))
        return out  # type: ignore[return-value]

    async def create_broadcast(self, new: NewBroadcast) -> tuple[Broadcast, Event]:
        created_at = to_utc(new.created_at)
        created = ts_text(created_at)
        async with self._write() as db:
            ((seq,),) = await db.execute_fetchall(sql.BUMP_BY.on(SQLITE), (1,))
            ((bid,),) = await db.execute_fetchall(
                INSERT_BROADCAST,
                (
                    new.author,
                    sectors_json(new.sectors),
                    circle_json(new.circle),
                    new.text,
                    new.level,
                    new.recipients,
                    created,
                    seq,
                    polygon_json(new.polygon),
                ),
            )
            b = Broadcast(
                id=bid,
                author=new.author,
                sectors=None if new.sectors is None else tuple(new.sectors),
                circle=new.circle,
                text=new.text,
                level=new.level,
                recipients=new.recipients,
                created_at=created_at,
                seq=seq,
                polygon=new.polygon,
            )
            (event,) = await append_events(
                db, [Draft(seq, "broadcast.sent", broadcast_view(b), created_at, new.channels)]
            )
            await append_audit(SqliteTx(db), AuditEntry("broadcast.send", "broadcast", bid, new.author, created_at))
            if new.fanout is not None:
                await enqueue_fanout(SqliteTx(db), new.fanout, bid, created_at)
        return b, event
