"""Store on PostgreSQL (asyncpg pool).

The hot path, create_alert, is group-committed (store_common.AlertBatcher):
the alerts that concurrent callers submit meanwhile are written together by
one statement, hence one round trip and one implicit transaction: bump the
event_seq counter once for the batch (skipping alerts whose client_id is
taken), insert the alerts with their seqs, insert their events, return the
alerts. The counter row lock is held from the bump to the commit, which is
what makes seqs gapless and commit order equal seq order; nothing waits on
the client while it is held.

The pool does not run asyncpg's session reset query on release (a round trip
per request): this store never changes session state. asyncpg still rolls
back a transaction left open by a cancelled task."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg

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
    event_from_row,
    home_changes,
    norm_email,
    provisional_alert,
    sectors_json,
    to_utc,
    ts_identity,
    user_from_row,
    user_record,
)
from dispatch.adapters.store_postgres_sql import (
    ADD_USERS,
    BUMP_BY,
    CREATE_ALERTS,
    CREATE_BROADCAST,
    HEADS,
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

PING_TIMEOUT_S = 5.0
MAX_ALERT_BATCH = 256

_DIALECT = Dialect(
    param=lambda i: f"${i}",
    ids_in="id = ANY({p}::bigint[])",
    ids_value=lambda ids: [int(i) for i in ids],
    ts_value=to_utc,
)


async def _no_reset(con: asyncpg.Connection[Any]) -> None:
    return None


class PostgresStore(TriageStore):
    def __init__(self, url: str, pool_size: int = 10, grouping: Grouping | None = None) -> None:
        self.grouping = grouping
        if pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        self.url = url
        self.pool_size = pool_size
        self._pool: asyncpg.Pool[Any] | None = None
        self._batcher = AlertBatcher(self._insert_alerts, (asyncpg.PostgresError,), MAX_ALERT_BATCH)
        self._groups = GroupCache(FactsCache())  # candidate incidents as grouping sees them

    # -- lifecycle ----------------------------------------------------------

    async def connect(self) -> None:
        if self._pool is None:
            self._pool = await asyncpg.create_pool(self.url, min_size=1, max_size=self.pool_size, reset=_no_reset)

    async def close(self) -> None:
        await self._batcher.drain()
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    @property
    def pool(self) -> asyncpg.Pool[Any]:
        if self._pool is None:
            raise RuntimeError("PostgresStore is not connected")
        return self._pool

    async def migrate(self) -> list[int]:
        async with self.pool.acquire() as con:
            return await migrations.migrate_postgres(con)

    async def ping(self) -> None:
        await self.pool.fetchval("SELECT 1", timeout=PING_TIMEOUT_S)

    # -- accounts -----------------------------------------------------------

    async def add_users(self, users: Sequence[NewUser]) -> list[int]:
        check_duplicates(users, set())
        if not users:
            return []
        emails = [norm_email(u.email) for u in users]
        columns = [list(c) for c in zip(*(user_record(u) for u in users))]
        async with self.pool.acquire() as con:
            try:
                async with con.transaction():
                    taken = await con.fetch("SELECT email FROM users WHERE email = ANY($1::text[])", emails)
                    check_duplicates(users, {r["email"] for r in taken})
                    rows = await con.fetch(ADD_USERS, *columns, utcnow())
            except asyncpg.UniqueViolationError:
                # A concurrent batch took one of the emails after our check.
                taken = await con.fetch("SELECT email FROM users WHERE email = ANY($1::text[])", emails)
                check_duplicates(users, {r["email"] for r in taken})
                raise
        ids = {r["email"]: r["id"] for r in rows}
        return [ids[e] for e in emails]

    async def user_by_email(self, email: str) -> User | None:
        row = await self.pool.fetchrow(f"SELECT {USER_COLUMNS} FROM users WHERE email = $1", norm_email(email))
        return None if row is None else user_from_row(row, ts_identity)

    async def user_by_id(self, user_id: int) -> User | None:
        row = await self.pool.fetchrow(f"SELECT {USER_COLUMNS} FROM users WHERE id = $1", user_id)
        return None if row is None else user_from_row(row, ts_identity)

    async def add_session(self, token_hash: str, user_id: int, expires_at: datetime) -> None:
        await self.pool.execute(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
            token_hash,
            user_id,
            utcnow(),
            to_utc(expires_at),
        )

    async def session_user(self, token_hash: str, now: datetime) -> User | None:
        cols = ", ".join("u." + c.strip() for c in USER_COLUMNS.split(","))
        row = await self.pool.fetchrow(
            f"SELECT {cols} FROM sessions s JOIN users u ON u.id = s.user_id"
            " WHERE s.token_hash = $1 AND s.expires_at > $2",
            token_hash,
            to_utc(now),
        )
        return None if row is None else user_from_row(row, ts_identity)

    async def resident_homes(self, sectors: Sequence[str] | None = None) -> list[tuple[int, float, float, str | None]]:
        sql = (
            "SELECT id, home_lat, home_lon, home_sector FROM users"
            f" WHERE validated AND role IN {RESIDENT_ROLES_SQL} AND home_lat IS NOT NULL AND home_lon IS NOT NULL"
        )
        args: list[Any] = []
        if sectors is not None:
            sql += " AND home_sector = ANY($1::text[])"
            args.append(list(sectors))
        rows = await self.pool.fetch(sql + " ORDER BY id", *args)
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    async def set_home_sectors(self, assign: Callable[[float, float], str | None]) -> int:
        async with self.pool.acquire() as con, con.transaction():
            rows = await con.fetch(
                "SELECT id, home_lat, home_lon, home_sector FROM users"
                " WHERE home_lat IS NOT NULL AND home_lon IS NOT NULL ORDER BY id FOR UPDATE"
            )
            changes = home_changes(rows, assign)
            if changes:
                await con.execute(
                    "UPDATE users SET home_sector = c.s FROM unnest($1::bigint[], $2::text[]) AS c(id, s)"
                    " WHERE users.id = c.id",
                    [i for i, _ in changes],
                    [s for _, s in changes],
                )
        return len(changes)

    # -- alerts and broadcasts ---------------------------------------------

    async def create_alert_grouped(self, new: NewAlert) -> tuple[Alert, list[Event]]:
        self.pool  # noqa: B018 -- raise now if not connected
        return await self._batcher.submit(new)

    def _tx(self, con: asyncpg.Connection[Any]) -> Tx:
        async def bump(n: int) -> int:
            return int(await con.fetchval(BUMP_BY, n))

        return Tx(True, con, to_utc, ts_identity, lambda drafts: append_events(con, drafts), bump)

    @asynccontextmanager
    async def _write_tx(self) -> AsyncIterator[Tx]:
        async with self.pool.acquire() as con, con.transaction():
            yield self._tx(con)

    @asynccontextmanager
    async def _read_tx(self) -> AsyncIterator[Tx]:
        async with self.pool.acquire() as con:
            yield self._tx(con)

    async def _insert_alerts(self, batch: Sequence[NewAlert]) -> list[tuple[Alert, list[Event]]]:
        drafts = [provisional_alert(n) for n in batch]
        columns = [
            [n.author for n in batch],
            [n.category for n in batch],
            [n.lat for n in batch],
            [n.lon for n in batch],
            [n.text for n in batch],
            [n.client_id for n in batch],
            [n.sector for n in batch],
            [n.cell for n in batch],
            [n.priority for n in batch],
            [d.created_at for d in drafts],
        ]
        out: list[tuple[Alert, list[Event]] | None] = [None] * len(batch)
        async with self.pool.acquire() as con:
            for attempt in range(1, 4):
                try:
                    async with con.transaction():
                        rows = await con.fetch(CREATE_ALERTS, *columns)
                        created = [(r["i"] - 1, alert_from_row(r, ts_identity)) for r in rows if r["created"]]
                        events, extra = await self._created(con, batch, created)
                    break
                except asyncpg.UniqueViolationError as exc:
                    # lost a race on one (author, client_id) with another
                    # process; the winner has committed: the retry sees it
                    if exc.constraint_name != "alerts_author_client_id" or attempt == 3:
                        raise
        fresh = {i: (a, e) for (i, a), e in zip(created, events)}
        last = created[-1][0] if created else -1
        for row in rows:
            i = row["i"] - 1
            if i in fresh:
                alert, event = fresh[i]
                out[i] = (alert, [event, *(extra if i == last else [])])
            else:
                out[i] = (alert_from_row(row, ts_identity), [])
        if any(o is None for o in out):
            raise RuntimeError("create_alert: an alert was neither inserted nor found")
        return out  # type: ignore[return-value]

    async def _created(
        self, con: asyncpg.Connection[Any], batch: Sequence[NewAlert], created: list[tuple[int, Alert]]
    ) -> tuple[list[Event], list[Event]]:
        """Group the new alerts into incidents, then write their events."""
        if not created:
            return [], []
        tx = self._tx(con)
        grouped = None
        if self.grouping is not None:
            now = utcnow()
            updated, change, saved = await group_new_alerts(
                tx, self.grouping, self._groups, [a for _, a in created], now
            )
            created[:] = [(i, a) for (i, _), a in zip(created, updated)]
            grouped = (change, saved, now)
        mine = [Draft(a.seq, "alert.created", alert_staff(a), a.created_at, batch[i].channels) for i, a in created]
        theirs = await drafts(tx, *grouped) if grouped else []
        events = await append_events(con, mine + theirs)  # one append for both: fewer round trips
        return events[: len(mine)], events[len(mine) :]

    async def get_alert(self, alert_id: int) -> Alert | None:
        row = await self.pool.fetchrow(f"SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1", alert_id)
        return None if row is None else alert_from_row(row, ts_identity)

    async def list_alerts(self, query: AlertQuery) -> list[Alert]:
        sql, args = alert_query_sql(query, _DIALECT)
        rows = await self.pool.fetch(sql, *args)
        return [alert_from_row(r, ts_identity) for r in rows]

    async def create_broadcast(self, new: NewBroadcast) -> tuple[Broadcast, Event]:
        b = Broadcast(
            id=0,
            author=new.author,
            sectors=None if new.sectors is None else tuple(new.sectors),
            circle=new.circle,
            text=new.text,
            level=new.level,
            recipients=new.recipients,
            created_at=to_utc(new.created_at),
            seq=0,
        )
        async with self.pool.acquire() as con, con.transaction():
            row = await con.fetchrow(
                CREATE_BROADCAST,
                new.author,
                sectors_json(new.sectors),
                circle_json(new.circle),
                new.text,
                new.level,
                new.recipients,
                b.created_at,
            )
            b = dataclasses.replace(b, id=row["id"], seq=row["seq"])
            (event,) = await append_events(
                con, [Draft(b.seq, "broadcast.sent", broadcast_view(b), b.created_at, new.channels)]
            )
        return b, event

    # -- the event log ------------------------------------------------------

    async def events_after(self, seq: int, limit: int = 1000, channel: str | None = None) -> list[Event]:
        if channel is None:
            rows = await self.pool.fetch(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE seq > $1 ORDER BY seq LIMIT $2", seq, max(0, limit)
            )
        else:
            cols = ", ".join("e." + c.strip() for c in EVENT_COLUMNS.split(","))
            rows = await self.pool.fetch(
                f"SELECT {cols} FROM event_channels c JOIN events e ON e.seq = c.seq"
                " WHERE c.channel = $1 AND c.seq > $2 ORDER BY c.seq LIMIT $3",
                channel,
                seq,
                max(0, limit),
            )
        return [event_from_row(r, ts_identity) for r in rows]

    async def channel_heads(self, channels: Sequence[str]) -> dict[str, int]:
        heads = {r[0]: int(r[1]) for r in await self.pool.fetch(HEADS, list(channels))}
        return {c: heads.get(c, 0) for c in channels}

    async def channel_head(self, channel: str) -> int:
        return (await self.channel_heads([channel]))[channel]

    async def head_seq(self) -> int:
        value = await self.pool.fetchval("SELECT value FROM event_seq WHERE id = 1")
        return 0 if value is None else int(value)

    async def get_broadcast(self, broadcast_id: int) -> Broadcast | None:
        """Not in the Store protocol (yet): lets the contract suite read back a broadcast."""
        row = await self.pool.fetchrow(f"SELECT {BROADCAST_COLUMNS} FROM broadcasts WHERE id = $1", broadcast_id)
        return None if row is None else broadcast_from_row(row, ts_identity)
