"""What the PostgreSQL store runs its own way: PostgresTx (tx.Tx over
asyncpg), and the statements that take array parameters so that a batch
costs one round trip (create_alert_grouped, the event append, add_users,
set_home_sectors) or that bump the counter in the same statement
(create_broadcast). Statements shared with SQLite are in store_sql.py."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from dispatch.adapters.dialect import POSTGRES
from dispatch.adapters.store_common import (
    ALERT_COLUMNS,
    Draft,
    Row,
    channels_of,
    dumps,
    link,
)
from dispatch.adapters.store_sql import BUMP_BY, CHANNEL_HEADS
from dispatch.adapters.tx import Tx
from dispatch.core.model import Event

# create_alert_grouped for a batch, in one statement (one round trip, one implicit
# transaction). Arrays, one element per alert: $1 author, $2 category, $3 lat,
# $4 lon, $5 text, $6 client_id, $7 sector, $8 cell, $9 priority,
# $10 created_at. The events follow in a second statement of the same
# transaction (append_events): it must read the channel heads with a snapshot
# taken after this one has the counter's row lock.
# `fresh` drops the alerts whose (author, client_id) exists; if none is left
# nothing is bumped. `s` bumps the counter once by the number of fresh alerts
# (its row lock is held until commit); `numbered` hands out ids and seqs in
# input order, so seqs follow the callers' order as AlertBatcher promises.
# The result: one row per input alert, `created` or the existing one. Two
# concurrent first attempts at one (author, client_id): the loser fails on the
# unique index, rolling back its bump, and is retried.
CREATE_ALERTS = f"""
WITH input AS (
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::float8[], $4::float8[], $5::text[], $6::text[],
                         $7::text[], $8::text[], $9::float8[], $10::timestamptz[])
         WITH ORDINALITY AS t(author, category, lat, lon, text, client_id, sector, cell, priority, created_at, i)
), fresh AS (
    SELECT * FROM input
    WHERE NOT EXISTS (SELECT 1 FROM alerts x WHERE x.author = input.author AND x.client_id = input.client_id)
), s AS (
    UPDATE event_seq SET value = value + (SELECT count(*) FROM fresh)
    WHERE id = 1 AND EXISTS (SELECT 1 FROM fresh)
    RETURNING value
), numbered AS (
    SELECT w.*, nextval('alerts_id_seq') AS id
    FROM (SELECT fresh.*, s.value - count(*) OVER () + row_number() OVER (ORDER BY fresh.i) AS seq
          FROM fresh, s ORDER BY fresh.i) w
), a AS (
    INSERT INTO alerts (id, author, category, lat, lon, text, client_id, sector, cell, status, priority,
                        assignee, notes, created_at, updated_at, seq)
    SELECT id, author, category, lat, lon, text, client_id, sector, cell, 'new', priority, NULL, '[]',
           created_at, created_at, seq
    FROM numbered
)
SELECT true AS created, i, id, author, category, lat, lon, text, client_id, sector, cell, 'new' AS status,
       priority, NULL AS assignee, '[]'::jsonb AS notes, created_at, created_at AS updated_at, seq,
       NULL::bigint AS incident, false AS hidden, NULL::text AS hide_reason, false AS text_hidden
FROM numbered
UNION ALL
SELECT false, input.i, {", ".join(f"x.{c.strip()}" for c in ALERT_COLUMNS.split(","))}
FROM input JOIN alerts x ON x.author = input.author AND x.client_id = input.client_id
WHERE NOT EXISTS (SELECT 1 FROM fresh f WHERE f.i = input.i)
"""

CREATE_BROADCAST = """
WITH s AS (
    UPDATE event_seq SET value = value + 1 WHERE id = 1 RETURNING value
)
INSERT INTO broadcasts (author, sectors, circle, text, level, recipients, created_at, seq, polygon)
SELECT $1::bigint, $2::jsonb, $3::jsonb, $4::text, $5::text, $6::int, $7::timestamptz, s.value, $8::jsonb FROM s
RETURNING id, seq
"""

SET_HOME_SECTORS = (
    "UPDATE users SET home_sector = c.s FROM unnest($1::bigint[], $2::text[]) AS c(id, s) WHERE users.id = c.id"
)

# The events of one transaction, their channel memberships and the new heads
# in one statement: one round trip however many events and channels.
APPEND = """
WITH ev AS (
    INSERT INTO events (seq, type, data, created_at, links)
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[], $5::text[])
), ec AS (
    INSERT INTO event_channels (channel, seq) SELECT * FROM unnest($6::text[], $7::bigint[])
)
INSERT INTO channel_heads (channel, last) SELECT * FROM unnest($8::text[], $9::bigint[])
ON CONFLICT (channel) DO UPDATE SET last = EXCLUDED.last
"""


async def append_events(con: asyncpg.Connection[Any], drafts: Sequence[Draft]) -> list[Event]:
    """Write events whose seqs this transaction has taken (it holds the
    counter's row lock, so this statement's snapshot sees every earlier
    commit), chained to their channels' previous events."""
    names = channels_of(drafts)
    heads = {r[0]: r[1] for r in await con.fetch(CHANNEL_HEADS.on(POSTGRES), names)} if names else {}
    events, new_heads = link(drafts, heads)
    pairs = [(c, e.seq) for e in events for c in e.links]
    await con.execute(
        APPEND,
        [e.seq for e in events],
        [e.type for e in events],
        [dumps(e.data) for e in events],
        [e.created_at for e in events],
        [dumps(e.links) for e in events],
        [c for c, _ in pairs],
        [q for _, q in pairs],
        names,
        [new_heads[c] for c in names],
    )
    return events


ADD_USERS = """
INSERT INTO users (role, email, password_hash, name, home_lat, home_lon, home_sector, validated, status, created_at)
SELECT r, e, p, n, la, lo, s, v, st, $10::timestamptz
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::float8[], $7::text[], $8::bool[],
            $9::text[])
     WITH ORDINALITY AS u(r, e, p, n, la, lo, s, v, st, i)
ORDER BY i
RETURNING id, email
"""


class PostgresTx(Tx):
    dialect = POSTGRES

    def __init__(self, con: asyncpg.Connection[Any]) -> None:
        self.con = con

    async def rows(self, sql: str, *args: Any) -> list[Row]:
        return list(await self.con.fetch(sql, *args))

    async def execute(self, sql: str, *args: Any) -> None:
        await self.con.execute(sql, *args)

    async def _execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self.con.executemany(sql, rows)

    async def new_ids(self, table: str, n: int) -> list[int]:
        if n == 0:
            return []
        rows = await self.con.fetch(
            f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, $1)", n
        )
        return [int(r[0]) for r in rows]

    async def bump(self, n: int) -> int:
        return int(await self.con.fetchval(BUMP_BY.on(POSTGRES), n))

    async def append(self, drafts: Sequence[Draft]) -> list[Event]:
        return await append_events(self.con, drafts)
