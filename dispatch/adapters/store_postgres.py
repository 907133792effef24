"""Store on PostgreSQL (asyncpg pool).

The hot path, create_alert_grouped, is group-committed (batcher.AlertBatcher):
the alerts that concurrent callers submit meanwhile are written together in
one transaction. One statement (store_postgres_sql.CREATE_ALERTS) bumps the
event_seq counter once for the batch (skipping alerts whose client_id is
taken) and inserts the alerts with their seqs; grouping them into incidents
and appending their events follow in the same transaction
(store_base.SqlStore._created). The counter row lock is held from the bump
to the commit, which is what makes seqs gapless and commit order equal seq
order; nothing waits on the client while it is held.

The pool does not run asyncpg's session reset query on release (a round trip
per request): this store never changes session state. asyncpg still rolls
back a transaction left open by a cancelled task.

Every connection comes from _connection(), which bounds the wait for one
and turns the driver's connection errors into StoreUnavailable; the pool
replaces a connection PostgreSQL dropped at the next acquire, so the store
comes back by itself when the server does."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg

from dispatch.adapters import migrations
from dispatch.adapters import store_sql as sql
from dispatch.adapters.audit_sql import append_audit, created_entries
from dispatch.adapters.batcher import AlertBatcher
from dispatch.adapters.dialect import POSTGRES
from dispatch.adapters.store_base import SqlStore
from dispatch.adapters.store_common import (
    Draft,
    alert_from_row,
    check_duplicates,
    circle_json,
    home_changes,
    norm_email,
    polygon_json,
    provisional_alert,
    sectors_json,
    to_utc,
    ts_identity,
    user_record,
)
from dispatch.adapters.store_outbox import enqueue_fanout
from dispatch.adapters.store_postgres_sql import (
    ADD_USERS,
    CREATE_ALERTS,
    CREATE_BROADCAST,
    SET_HOME_SECTORS,
    PostgresTx,
    append_events,
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

PING_TIMEOUT_S = 5.0
MAX_ALERT_BATCH = 256
# asyncpg waits 60 s for a connection by default, and for a free pooled one
# without end: while PostgreSQL is away a request must fail (503) within a
# few seconds instead. A refused connection fails at once; these bound a
# server that accepts and then says nothing (a failover, a full backlog).
CONNECT_TIMEOUT_S = 5.0
ACQUIRE_TIMEOUT_S = 10.0
# What the driver raises when the server is not there (OSError covers a
# refused or reset socket and the timeouts above): class 08, and the
# shutdown / starting-up codes 57P01-57P03 (not 57014, a cancelled query).
UNREACHABLE: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
)


async def _no_reset(con: asyncpg.Connection[Any]) -> None:
    return None


class PostgresStore(SqlStore):
    dialect = POSTGRES
    unique_violation = (asyncpg.UniqueViolationError,)

    def __init__(self, url: str, pool_size: int = 10, grouping: Grouping | None = None) -> None:
        super().__init__(grouping)
        if pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        self.url = url
        self.pool_size = pool_size
        self._pool: asyncpg.Pool[Any] | None = None
        self._batcher = AlertBatcher(self._insert_alerts, (asyncpg.PostgresError,), MAX_ALERT_BATCH)

    # -- lifecycle ----------------------------------------------------------

    async def connect(self) -> None:
        if self._pool is None:
            try:
                self._pool = await asyncpg.create_pool(
                    self.url, min_size=1, max_size=self.pool_size, reset=_no_reset, timeout=CONNECT_TIMEOUT_S
                )
            except UNREACHABLE as exc:  # a worker starting during an outage waits (wiring._ready_store)
                raise StoreUnavailable(f"PostgreSQL cannot be reached ({type(exc).__name__})") from exc

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

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection[Any]]:
        """A pooled connection, within ACQUIRE_TIMEOUT_S; the driver's
        connection errors, at acquire or in the body, as StoreUnavailable."""
        try:
            async with self.pool.acquire(timeout=ACQUIRE_TIMEOUT_S) as con:
                try:
                    yield con
                except asyncpg.InterfaceError as exc:  # "connection is closed"; else a bug
                    try:
                        closed = con.is_closed()
                    except asyncpg.InterfaceError:  # the pool took the proxy back: its connection died
                        closed = True
                    if not closed:
                        raise
                    raise StoreUnavailable("the connection to PostgreSQL was lost") from exc
        except UNREACHABLE as exc:
            raise StoreUnavailable(f"PostgreSQL cannot be reached ({type(exc).__name__})") from exc

    async def migrate(self) -> list[int]:
        async with self._connection() as con:
            return await migrations.migrate_postgres(con)

    async def ping(self) -> None:
        async with self._connection() as con:
            await con.fetchval("SELECT 1", timeout=PING_TIMEOUT_S)

    @asynccontextmanager
    async def _write_tx(self) -> AsyncIterator[PostgresTx]:
        async with self._connection() as con, con.transaction():
            yield PostgresTx(con)

    @asynccontextmanager
    async def _read_tx(self) -> AsyncIterator[PostgresTx]:
        async with self._connection() as con:
            yield PostgresTx(con)

    # -- accounts -----------------------------------------------------------

    async def add_users(self, users: Sequence[NewUser]) -> list[int]:
        check_duplicates(users, set())
        if not users:
            return []
        emails = [norm_email(u.email) for u in users]
        columns = [list(c) for c in zip(*(user_record(u) for u in users))]
        async with self._connection() as con:
            try:
                async with con.transaction():
                    taken = await con.fetch(sql.TAKEN_EMAILS.on(POSTGRES), emails)
                    check_duplicates(users, {r["email"] for r in taken})
                    created_at = utcnow()
                    rows = await con.fetch(ADD_USERS, *columns, created_at)
                    await append_audit(PostgresTx(con), *created_entries([r["id"] for r in rows], created_at))
            except asyncpg.UniqueViolationError:
                # A concurrent batch took one of the emails after our check.
                taken = await con.fetch(sql.TAKEN_EMAILS.on(POSTGRES), emails)
                check_duplicates(users, {r["email"] for r in taken})
                raise
        ids = {r["email"]: r["id"] for r in rows}
        return [ids[e] for e in emails]

    async def add_session(self, token_hash: str, user_id: int, expires_at: datetime, wall: bool = False) -> None:
        # autocommit: one statement needs no BEGIN/COMMIT round trips
        now = utcnow()
        async with self._connection() as con:
            await con.execute(sql.ADD_SESSION.on(POSTGRES), token_hash, user_id, now, to_utc(expires_at), now, wall)

    async def set_home_sectors(self, assign: Callable[[float, float], str | None]) -> int:
        async with self._connection() as con, con.transaction():
            rows = await con.fetch(sql.HOMES.on(POSTGRES))
            changes = home_changes(rows, assign)
            if changes:
                await con.execute(SET_HOME_SECTORS, [i for i, _ in changes], [s for _, s in changes])
        return len(changes)

    # -- alerts and broadcasts ---------------------------------------------

    async def create_alert_grouped(self, new: NewAlert) -> Created:
        self.pool  # noqa: B018 -- raise now if not connected
        return await self._batcher.submit(new)

    async def _insert_alerts(self, batch: Sequence[NewAlert]) -> list[Created]:
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
        out: list[Created | None] = [None] * len(batch)
        async with self._connection() as con:
            for attempt in range(1, 4):
                try:
                    async with con.transaction():
                        rows = await con.fetch(CREATE_ALERTS, *columns)
                        created = [(r["i"] - 1, alert_from_row(r, ts_identity)) for r in rows if r["created"]]
                        created, events, extra, queued = await self._created(PostgresTx(con), batch, created)
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
                out[i] = Created(alert, [event, *(extra if i == last else [])], queued.get(i, 0))
            else:
                out[i] = Created(alert_from_row(row, ts_identity), [])
        if any(o is None for o in out):
            raise RuntimeError("create_alert: an alert was neither inserted nor found")
        return out  # type: ignore[return-value]

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
            polygon=new.polygon,
        )
        async with self._connection() as con, con.transaction():
            row = await con.fetchrow(
                CREATE_BROADCAST,
                new.author,
                sectors_json(new.sectors),
                circle_json(new.circle),
                new.text,
                new.level,
                new.recipients,
                b.created_at,
                polygon_json(new.polygon),
            )
            b = dataclasses.replace(b, id=row["id"], seq=row["seq"])
            (event,) = await append_events(
                con, [Draft(b.seq, "broadcast.sent", broadcast_view(b), b.created_at, new.channels)]
            )
            await append_audit(PostgresTx(con), AuditEntry("broadcast.send", "broadcast", b.id, b.author, b.created_at))
            if new.fanout is not None:
                await enqueue_fanout(PostgresTx(con), new.fanout, b.id, b.created_at)
        return b, event
