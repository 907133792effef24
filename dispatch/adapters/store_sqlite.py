"""Store on one SQLite file (aiosqlite): WAL, synchronous=FULL, one connection.

Every operation, reads included, holds `self._lock`: aiosqlite runs one
connection's statements one at a time anyway, and a read slipped between the
statements of a write transaction on this same connection would see its
uncommitted rows (an event not yet durable, or one about to be rolled back).
Writes use BEGIN IMMEDIATE, so other processes on the same file queue on
busy_timeout rather than failing half-way; one writer at a time is what keeps
event seqs gapless and committed in order."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite

from dispatch.adapters import migrations
from dispatch.adapters.store_common import (
    ALERT_COLUMNS,
    BROADCAST_COLUMNS,
    EVENT_COLUMNS,
    RESIDENT_ROLES_SQL,
    USER_COLUMNS,
    Dialect,
    alert_from_row,
    alert_query_sql,
    broadcast_from_row,
    apply_change,
    check_duplicates,
    circle_json,
    dumps,
    event_from_row,
    home_changes,
    norm_email,
    provisional_alert,
    sectors_json,
    to_utc,
    ts_from_text,
    ts_text,
    user_from_row,
    user_record,
)
from dispatch.core.model import Alert, AlertQuery, Broadcast, Event, NewAlert, NewBroadcast, NewUser, User, utcnow
from dispatch.core.views import alert_staff, broadcast_view
from dispatch.ports import NotFound

BUSY_TIMEOUT_MS = 10_000

_DIALECT = Dialect(
    param=lambda i: "?",
    ids_in="id IN (SELECT value FROM json_each({p}))",
    ids_value=lambda ids: dumps([int(i) for i in ids]),
    ts_value=ts_text,
)

_BUMP = "UPDATE event_seq SET value = value + 1 WHERE id = 1 RETURNING value"
_INSERT_EVENT = f"INSERT INTO events ({EVENT_COLUMNS}) VALUES (?, ?, ?, ?)"


class SqliteStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

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
            await db.execute("PRAGMA journal_mode = WAL")
            await db.execute("PRAGMA synchronous = FULL")
            await db.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            await db.close()
            raise
        self._db = db

    async def close(self) -> None:
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
            yield self._db

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction; rolled back if the body raises."""
        async with self._read() as db:
            await db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                await db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    await db.execute("ROLLBACK")
                raise

    async def _one(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Row | None:
        async with self._read() as db:
            rows = await db.execute_fetchall(sql, args)
        return next(iter(rows), None)

    # -- accounts -----------------------------------------------------------

    async def add_users(self, users: Sequence[NewUser]) -> list[int]:
        check_duplicates(users, set())
        if not users:
            return []
        emails = [norm_email(u.email) for u in users]
        records = dumps([list(user_record(u)) for u in users])
        async with self._write() as db:
            taken = await db.execute_fetchall(
                "SELECT email FROM users WHERE email IN (SELECT value FROM json_each(?))", (dumps(emails),)
            )
            check_duplicates(users, {r["email"] for r in taken})
            rows = await db.execute_fetchall(
                "INSERT INTO users (role, email, password_hash, name, home_lat, home_lon, home_sector, validated,"
                " created_at)"
                " SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),"
                " json_extract(value, '$[3]'), json_extract(value, '$[4]'), json_extract(value, '$[5]'),"
                " json_extract(value, '$[6]'), json_extract(value, '$[7]'), ? FROM json_each(?) ORDER BY key"
                " RETURNING id, email",
                (ts_text(utcnow()), records),
            )
        ids = {r["email"]: r["id"] for r in rows}
        return [ids[e] for e in emails]

    async def user_by_email(self, email: str) -> User | None:
        row = await self._one(f"SELECT {USER_COLUMNS} FROM users WHERE email = ?", (norm_email(email),))
        return None if row is None else user_from_row(row, ts_from_text)

    async def user_by_id(self, user_id: int) -> User | None:
        row = await self._one(f"SELECT {USER_COLUMNS} FROM users WHERE id = ?", (user_id,))
        return None if row is None else user_from_row(row, ts_from_text)

    async def add_session(self, token_hash: str, user_id: int, expires_at: datetime) -> None:
        async with self._write() as db:
            await db.execute(
                "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                (token_hash, user_id, ts_text(utcnow()), ts_text(expires_at)),
            )

    async def session_user(self, token_hash: str, now: datetime) -> User | None:
        cols = ", ".join("u." + c.strip() for c in USER_COLUMNS.split(","))
        row = await self._one(
            f"SELECT {cols} FROM sessions s JOIN users u ON u.id = s.user_id"
            " WHERE s.token_hash = ? AND s.expires_at > ?",
            (token_hash, ts_text(now)),
        )
        return None if row is None else user_from_row(row, ts_from_text)

    async def resident_homes(self, sectors: Sequence[str] | None = None) -> list[tuple[int, float, float, str | None]]:
        sql = (
            "SELECT id, home_lat, home_lon, home_sector FROM users"
            f" WHERE validated AND role IN {RESIDENT_ROLES_SQL} AND home_lat IS NOT NULL AND home_lon IS NOT NULL"
        )
        args: tuple[Any, ...] = ()
        if sectors is not None:
            sql += " AND home_sector IN (SELECT value FROM json_each(?))"
            args = (dumps(list(sectors)),)
        async with self._read() as db:
            rows = await db.execute_fetchall(sql + " ORDER BY id", args)
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    async def set_home_sectors(self, assign: Callable[[float, float], str | None]) -> int:
        async with self._write() as db:
            rows = await db.execute_fetchall(
                "SELECT id, home_lat, home_lon, home_sector FROM users"
                " WHERE home_lat IS NOT NULL AND home_lon IS NOT NULL"
            )
            changes = home_changes(list(rows), assign)
            if changes:
                await db.executemany("UPDATE users SET home_sector = ? WHERE id = ?", [(s, i) for i, s in changes])
        return len(changes)

    # -- alerts and broadcasts ---------------------------------------------

    async def create_alert(self, new: NewAlert) -> tuple[Alert, Event | None]:
        draft = provisional_alert(new)
        created = ts_text(draft.created_at)
        async with self._write() as db:
            # The counter is bumped below, in this same transaction; nothing
            # else writes meanwhile (BEGIN IMMEDIATE), so value + 1 is our seq.
            rows = await db.execute_fetchall(
                "INSERT INTO alerts (author, category, lat, lon, text, client_id, sector, cell, status, priority,"
                " assignee, notes, created_at, updated_at, seq)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'new', ?, NULL, '[]', ?, ?,"
                " (SELECT value + 1 FROM event_seq WHERE id = 1))"
                " ON CONFLICT (author, client_id) WHERE client_id IS NOT NULL DO NOTHING"
                " RETURNING id, seq",
                (new.author, new.category, new.lat, new.lon, new.text, new.client_id, new.sector, new.cell,
                 new.priority, created, created),
            )
            row = next(iter(rows), None)
            if row is not None:
                alert = provisional_alert(new, row["id"], row["seq"])
                data = alert_staff(alert)
                (bumped,) = await db.execute_fetchall(_BUMP)
                if bumped[0] != alert.seq:  # impossible while we are the only writer
                    raise RuntimeError(f"event_seq moved under a write transaction: {bumped[0]} != {alert.seq}")
                await db.execute(_INSERT_EVENT, (alert.seq, "alert.created", dumps(data), created))
                event: Event | None = Event(alert.seq, "alert.created", data, draft.created_at)
            else:
                existing = await db.execute_fetchall(
                    f"SELECT {ALERT_COLUMNS} FROM alerts WHERE author = ? AND client_id = ?",
                    (new.author, new.client_id),
                )
                alert = alert_from_row(next(iter(existing)), ts_from_text)
                event = None
        return alert, event

    async def get_alert(self, alert_id: int) -> Alert | None:
        row = await self._one(f"SELECT {ALERT_COLUMNS} FROM alerts WHERE id = ?", (alert_id,))
        return None if row is None else alert_from_row(row, ts_from_text)

    async def list_alerts(self, query: AlertQuery) -> list[Alert]:
        sql, args = alert_query_sql(query, _DIALECT)
        async with self._read() as db:
            rows = await db.execute_fetchall(sql, args)
        return [alert_from_row(r, ts_from_text) for r in rows]

    async def update_alert(self, alert_id: int, change: Callable[[Alert], Alert]) -> tuple[Alert, Event]:
        async with self._write() as db:
            rows = await db.execute_fetchall(f"SELECT {ALERT_COLUMNS} FROM alerts WHERE id = ?", (alert_id,))
            row = next(iter(rows), None)
            if row is None:
                raise NotFound(f"alert {alert_id}")
            alert = apply_change(alert_from_row(row, ts_from_text), change)
            data = alert_staff(alert)
            await db.execute(
                "UPDATE alerts SET status = ?, priority = ?, assignee = ?, notes = ?, updated_at = ? WHERE id = ?",
                (alert.status, alert.priority, alert.assignee, dumps(list(alert.notes)), ts_text(alert.updated_at),
                 alert_id),
            )
            ((seq,),) = await db.execute_fetchall(_BUMP)
            await db.execute(_INSERT_EVENT, (seq, "alert.updated", dumps(data), ts_text(alert.updated_at)))
        return alert, Event(seq, "alert.updated", data, alert.updated_at)

    async def create_broadcast(self, new: NewBroadcast) -> tuple[Broadcast, Event]:
        created_at = to_utc(new.created_at)
        created = ts_text(created_at)
        async with self._write() as db:
            ((seq,),) = await db.execute_fetchall(_BUMP)
            ((bid,),) = await db.execute_fetchall(
                "INSERT INTO broadcasts (author, sectors, circle, text, level, recipients, created_at, seq)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (new.author, sectors_json(new.sectors), circle_json(new.circle), new.text, new.level,
                 new.recipients, created, seq),
            )
            b = Broadcast(
                id=bid, author=new.author, sectors=None if new.sectors is None else tuple(new.sectors),
                circle=new.circle, text=new.text, level=new.level, recipients=new.recipients,
                created_at=created_at, seq=seq,
            )
            data = broadcast_view(b)
            await db.execute(_INSERT_EVENT, (seq, "broadcast.sent", dumps(data), created))
        return b, Event(seq, "broadcast.sent", data, created_at)

    # -- the event log ------------------------------------------------------

    async def events_after(self, seq: int, limit: int = 1000) -> list[Event]:
        async with self._read() as db:
            rows = await db.execute_fetchall(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (seq, max(0, limit))
            )
        return [event_from_row(r, ts_from_text) for r in rows]

    async def head_seq(self) -> int:
        row = await self._one("SELECT value FROM event_seq WHERE id = 1")
        return 0 if row is None else int(row[0])

    async def get_broadcast(self, broadcast_id: int) -> Broadcast | None:
        """Not in the Store protocol (yet): lets the contract suite read back a broadcast."""
        row = await self._one(f"SELECT {BROADCAST_COLUMNS} FROM broadcasts WHERE id = ?", (broadcast_id,))
        return None if row is None else broadcast_from_row(row, ts_from_text)
