"""What the SQLite store runs its own way: SqliteTx (tx.Tx over aiosqlite),
the event append, and the multi-row INSERTs of create_alert_grouped and
add_users. Statements shared with PostgreSQL are in store_sql.py."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import aiosqlite

from dispatch.adapters.dialect import SQLITE
from dispatch.adapters.store_common import (
    ALERT_COLUMNS,
    EVENT_COLUMNS,
    Draft,
    Row,
    alert_from_row,
    channels_of,
    dumps,
    link,
    ts_from_text,
    ts_text,
)
from dispatch.adapters.store_sql import BUMP_BY, CHANNEL_HEADS
from dispatch.adapters.tx import Tx
from dispatch.core.model import Alert, Event, NewAlert

USER_CHUNK = 90  # 10 parameters a row
# 13 parameters a row: 64 rows stay under SQLite's historical limit of 999.
MAX_ALERT_BATCH = 64
ALERT_ROW = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT value FROM event_seq WHERE id = 1) + ?)"
INSERT_ALERTS = (
    "INSERT INTO alerts (author, category, lat, lon, text, client_id, sector, cell, status, priority,"
    " created_at, updated_at, seq) VALUES "
)
INSERT_USERS = (
    "INSERT INTO users (role, email, password_hash, name, home_lat, home_lon, home_sector, validated,"
    " status, created_at) VALUES "
)
USER_ROW = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
INSERT_BROADCAST = (
    "INSERT INTO broadcasts (author, sectors, circle, text, level, recipients, created_at, seq, polygon)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
)
SET_HOME_SECTOR = "UPDATE users SET home_sector = ? WHERE id = ?"
INSERT_EVENT = f"INSERT INTO events ({EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?)"
INSERT_EVENT_CHANNEL = "INSERT INTO event_channels (channel, seq) VALUES (?, ?)"
UPSERT_HEAD = (
    "INSERT INTO channel_heads (channel, last) VALUES (?, ?) ON CONFLICT (channel) DO UPDATE SET last = excluded.last"
)


class SqliteTx(Tx):
    dialect = SQLITE

    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db

    async def rows(self, sql: str, *args: Any) -> list[Row]:
        return list(await self.db.execute_fetchall(sql, args))

    async def execute(self, sql: str, *args: Any) -> None:
        await self.db.execute(sql, args)

    async def _execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self.db.executemany(sql, rows)

    async def new_ids(self, table: str, n: int) -> list[int]:
        if n == 0:
            return []
        # we hold the only write lock: nobody else takes ids meanwhile
        ((top,),) = await self.db.execute_fetchall(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
        return list(range(int(top) + 1, int(top) + 1 + n))

    async def bump(self, n: int) -> int:
        ((value,),) = await self.db.execute_fetchall(BUMP_BY.on(SQLITE), (n,))
        return int(value)

    async def append(self, drafts: Sequence[Draft]) -> list[Event]:
        return await append_events(self.db, drafts)


async def append_events(db: aiosqlite.Connection, drafts: Sequence[Draft]) -> list[Event]:
    """Write events whose seqs this write transaction has taken, chained to
    their channels' previous events (dispatch.ports.store.Store: links)."""
    names = channels_of(drafts)
    heads: dict[str, int] = {}
    if names:
        rows = await db.execute_fetchall(CHANNEL_HEADS.on(SQLITE), (SQLITE.list_param(names),))
        heads = {r[0]: r[1] for r in rows}
    events, new_heads = link(drafts, heads)
    await db.executemany(
        INSERT_EVENT, [(e.seq, e.type, dumps(e.data), ts_text(e.created_at), dumps(e.links)) for e in events]
    )
    await db.executemany(INSERT_EVENT_CHANNEL, [(c, e.seq) for e in events for c in e.links])
    await db.executemany(UPSERT_HEAD, [(c, new_heads[c]) for c in names])
    return events


async def existing_alerts(db: aiosqlite.Connection, batch: Sequence[NewAlert]) -> dict[int, Alert]:
    """By index in `batch`: the stored alerts whose (author, client_id) an
    entry repeats. One SELECT for the whole batch."""
    keyed = [(i, n) for i, n in enumerate(batch) if n.client_id is not None]
    if not keyed:
        return {}
    rows = await db.execute_fetchall(
        f"SELECT {ALERT_COLUMNS} FROM alerts WHERE " + " OR ".join(["(author = ? AND client_id = ?)"] * len(keyed)),
        [v for _, n in keyed for v in (n.author, n.client_id)],
    )
    found = {(r["author"], r["client_id"]): alert_from_row(r, ts_from_text) for r in rows}
    return {i: found[(n.author, n.client_id)] for i, n in keyed if (n.author, n.client_id) in found}


async def insert_fresh(db: aiosqlite.Connection, fresh: list[tuple[int, Alert]]) -> list[tuple[int, Alert]]:
    """Insert the alerts in one statement; each comes back with its id and
    seq. Nothing else writes meanwhile (BEGIN IMMEDIATE): the k-th alert gets
    seq = counter + k, then the counter moves by len(fresh)."""
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
        INSERT_ALERTS + ", ".join([ALERT_ROW] * len(fresh)) + " RETURNING id, seq",
        params,
    )
    named = sorted((r["seq"], r["id"]) for r in rows)  # RETURNING order is unspecified
    ((head,),) = await db.execute_fetchall(BUMP_BY.on(SQLITE), (len(fresh),))
    if len(named) != len(fresh) or named[-1][0] != head:  # impossible while we are the only writer
        raise RuntimeError(f"event_seq moved under a write transaction: {named[-1:]} != {head}")
    return [(i, dataclasses.replace(draft, id=alert_id, seq=seq)) for (i, draft), (seq, alert_id) in zip(fresh, named)]
