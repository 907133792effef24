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
import contextlib
import dataclasses
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite

from dispatch.adapters import migrations
from dispatch.adapters.batcher import AlertBatcher
from dispatch.adapters.grouping_sql import FactsCache, GroupCache, group_new_alerts
from dispatch.adapters.store_common import (
    ALERT_COLUMNS,
    BROADCAST_COLUMNS,
    EVENT_COLUMNS,
    RESIDENT_ROLES_SQL,
    USER_COLUMNS,
    Dialect,
    Draft,
    alert_from_row,
    alert_query_sql,
    broadcast_from_row,
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
from dispatch.adapters.store_sqlite_sql import (
    ALERT_ROW,
    BUMP,
    BUMP_BY,
    MAX_ALERT_BATCH,
    USER_CHUNK,
    append_events,
)
from dispatch.adapters.triage_sql import (
    TriageStore,
    Tx,
    drafts,
)
from dispatch.core.model import (
    Alert,
    AlertQuery,
    Broadcast,
    Event,
    NewAlert,
    NewBroadcast,
    NewUser,
    User,
    utcnow,
)
from dispatch.core.views import alert_staff, broadcast_view
from dispatch.ports.grouping import Grouping

BUSY_TIMEOUT_MS = 10_000

_DIALECT = Dialect(
    param=lambda i: "?",
    ids_in="id IN (SELECT value FROM json_each({p}))",
    ids_value=lambda ids: dumps([int(i) for i in ids]),
    ts_value=ts_text,
)


class SqliteStore(TriageStore):
    def __init__(self, path: str | Path, grouping: Grouping | None = None) -> None:
        self.grouping = grouping
        self.path = Path(path)
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._batcher = AlertBatcher(self._insert_alerts, (sqlite3.DatabaseError,), MAX_ALERT_BATCH)
        self._groups = GroupCache(FactsCache())  # candidate incidents as grouping sees them

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
            yield self._db

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
        created = ts_text(utcnow())
        async with self._write() as db:
            taken = await db.execute_fetchall(
                "SELECT email FROM users WHERE email IN (SELECT value FROM json_each(?))", (dumps(emails),)
            )
            check_duplicates(users, {r["email"] for r in taken})
            ids: dict[str, int] = {}
            for start in range(0, len(users), USER_CHUNK):
                chunk = users[start : start + USER_CHUNK]
                rows = await db.execute_fetchall(
                    "INSERT INTO users (role, email, password_hash, name, home_lat, home_lon, home_sector, validated,"
                    " created_at) VALUES "
                    + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk))
                    + " RETURNING id, email",
                    [v for u in chunk for v in (*user_record(u), created)],
                )
                ids.update((r["email"], r["id"]) for r in rows)
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

    async def create_alert_grouped(self, new: NewAlert) -> tuple[Alert, list[Event]]:
        if self._db is None:
            raise RuntimeError("SqliteStore is not connected")
        return await self._batcher.submit(new)

    def _tx(self, db: aiosqlite.Connection) -> Tx:
        async def bump(n: int) -> int:
            ((value,),) = await db.execute_fetchall(BUMP_BY, (n,))
            return int(value)

        return Tx(False, db, ts_text, ts_from_text, lambda drafts: append_events(db, drafts), bump)

    @asynccontextmanager
    async def _write_tx(self) -> AsyncIterator[Tx]:
        async with self._write() as db:
            yield self._tx(db)

    @asynccontextmanager
    async def _read_tx(self) -> AsyncIterator[Tx]:
        async with self._read() as db:
            yield self._tx(db)

    async def _insert_alerts(self, batch: Sequence[NewAlert]) -> list[tuple[Alert, list[Event]]]:
        """One write transaction for the batch (keys are distinct: AlertBatcher)."""
        out: list[tuple[Alert, list[Event]] | None] = [None] * len(batch)
        keyed = [(i, n) for i, n in enumerate(batch) if n.client_id is not None]
        async with self._write() as db:
            if keyed:
                rows = await db.execute_fetchall(
                    f"SELECT {ALERT_COLUMNS} FROM alerts WHERE "
                    + " OR ".join(["(author = ? AND client_id = ?)"] * len(keyed)),
                    [v for _, n in keyed for v in (n.author, n.client_id)],
                )
                found = {(r["author"], r["client_id"]): alert_from_row(r, ts_from_text) for r in rows}
                for i, n in keyed:
                    if (n.author, n.client_id) in found:
                        out[i] = (found[(n.author, n.client_id)], [])
            fresh = [(i, provisional_alert(n)) for i, n in enumerate(batch) if out[i] is None]
            if fresh:
                # Nothing else writes meanwhile (BEGIN IMMEDIATE): the k-th
                # fresh alert gets seq = counter + k, then the counter moves.
                params: list[Any] = []
                for k, (_, a) in enumerate(fresh, 1):
                    created = ts_text(a.created_at)
                    params += [
                        a.author,
                        a.category,
                        a.lat,
                        a.lon,
                        a.text,
                        a.client_id,
                        a.sector,
                        a.cell,
                        a.status,
                        a.priority,
                        created,
                        created,
                        k,
                    ]
                rows = await db.execute_fetchall(
                    "INSERT INTO alerts (author, category, lat, lon, text, client_id, sector, cell, status, priority,"
                    " created_at, updated_at, seq) VALUES "
                    + ", ".join([ALERT_ROW] * len(fresh))
                    + " RETURNING id, seq",
                    params,
                )
                named = sorted((r["seq"], r["id"]) for r in rows)  # RETURNING order is unspecified
                ((head,),) = await db.execute_fetchall(BUMP_BY, (len(fresh),))
                if len(named) != len(fresh) or named[-1][0] != head:  # impossible while we are the only writer
                    raise RuntimeError(f"event_seq moved under a write transaction: {named[-1:]} != {head}")
                alerts = [
                    (i, dataclasses.replace(draft, id=alert_id, seq=seq))
                    for (i, draft), (seq, alert_id) in zip(fresh, named)
                ]
                tx = self._tx(db)
                grouped = None
                if self.grouping is not None:
                    now = utcnow()
                    updated, change, saved = await group_new_alerts(
                        tx, self.grouping, self._groups, [a for _, a in alerts], now
                    )
                    alerts = [(i, a) for (i, _), a in zip(alerts, updated)]
                    grouped = (change, saved, now)
                mine = [
                    Draft(a.seq, "alert.created", alert_staff(a), a.created_at, batch[i].channels) for i, a in alerts
                ]
                theirs = await drafts(tx, *grouped) if grouped else []
                events = await append_events(db, mine + theirs)
                events, extra = events[: len(mine)], events[len(mine) :]
                for k, ((i, alert), event) in enumerate(zip(alerts, events)):
                    out[i] = (alert, [event, *(extra if k == len(alerts) - 1 else [])])
        return out  # type: ignore[return-value]

    async def get_alert(self, alert_id: int) -> Alert | None:
        row = await self._one(f"SELECT {ALERT_COLUMNS} FROM alerts WHERE id = ?", (alert_id,))
        return None if row is None else alert_from_row(row, ts_from_text)

    async def list_alerts(self, query: AlertQuery) -> list[Alert]:
        sql, args = alert_query_sql(query, _DIALECT)
        async with self._read() as db:
            rows = await db.execute_fetchall(sql, args)
        return [alert_from_row(r, ts_from_text) for r in rows]

    async def create_broadcast(self, new: NewBroadcast) -> tuple[Broadcast, Event]:
        created_at = to_utc(new.created_at)
        created = ts_text(created_at)
        async with self._write() as db:
            ((seq,),) = await db.execute_fetchall(BUMP)
            ((bid,),) = await db.execute_fetchall(
                "INSERT INTO broadcasts (author, sectors, circle, text, level, recipients, created_at, seq)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    new.author,
                    sectors_json(new.sectors),
                    circle_json(new.circle),
                    new.text,
                    new.level,
                    new.recipients,
                    created,
                    seq,
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
            )
            (event,) = await append_events(
                db, [Draft(seq, "broadcast.sent", broadcast_view(b), created_at, new.channels)]
            )
        return b, event

    # -- the event log ------------------------------------------------------

    async def events_after(self, seq: int, limit: int = 1000, channel: str | None = None) -> list[Event]:
        if channel is None:
            sql = f"SELECT {EVENT_COLUMNS} FROM events WHERE seq > ? ORDER BY seq LIMIT ?"
            args: tuple[Any, ...] = (seq, max(0, limit))
        else:
            cols = ", ".join("e." + c.strip() for c in EVENT_COLUMNS.split(","))
            sql = (
                f"SELECT {cols} FROM event_channels c JOIN events e ON e.seq = c.seq"
                " WHERE c.channel = ? AND c.seq > ? ORDER BY c.seq LIMIT ?"
            )
            args = (channel, seq, max(0, limit))
        async with self._read() as db:
            rows = await db.execute_fetchall(sql, args)
        return [event_from_row(r, ts_from_text) for r in rows]

    async def channel_heads(self, channels: Sequence[str]) -> dict[str, int]:
        async with self._read() as db:
            rows = await db.execute_fetchall(
                "SELECT channel, last FROM channel_heads WHERE channel IN (SELECT value FROM json_each(?))",
                (dumps(list(channels)),),
            )
        heads = {r[0]: int(r[1]) for r in rows}
        return {c: heads.get(c, 0) for c in channels}

    async def channel_head(self, channel: str) -> int:
        return (await self.channel_heads([channel]))[channel]

    async def head_seq(self) -> int:
        row = await self._one("SELECT value FROM event_seq WHERE id = 1")
        return 0 if row is None else int(row[0])

    async def get_broadcast(self, broadcast_id: int) -> Broadcast | None:
        """Not in the Store protocol (yet): lets the contract suite read back a broadcast."""
        row = await self._one(f"SELECT {BROADCAST_COLUMNS} FROM broadcasts WHERE id = ?", (broadcast_id,))
        return None if row is None else broadcast_from_row(row, ts_from_text)
