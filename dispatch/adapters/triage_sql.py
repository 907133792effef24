"""Triage persistence shared by both stores: incidents, units, and the generic
write transaction that saves a core.changes.Change.

One SQL text serves both backends: written with `?` placeholders, turned into
`$1, $2, …` for PostgreSQL. JSON columns are TEXT on both (migration 2)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from dispatch.adapters.store_common import (
    ALERT_COLUMNS,
    Draft,
    alert_from_row,
    dumps,
    loads,
    to_utc,
)
from dispatch.core.changes import Change, Saved, TriageState
from dispatch.core.lifecycle import OPEN
from dispatch.core.model import Alert, Event, Incident, IncidentQuery, NewAlert, Unit, evolve
from dispatch.ports.store import DuplicateUnit

if TYPE_CHECKING:
    from dispatch.ports.grouping import Grouping

# An incident's history is in incident_history (append-only, migration 3),
# not in these columns: an Incident read here has history (), and save()
# appends whatever history a change gives a saved incident. Views that show
# the history read it with TriageStore.incident_history.
INCIDENT_COLUMNS = (
    "id, category, sector, cell, lat, lon, status, priority, pinned, unit_id, alerts, authors, vulnerable, "
    "escalation, created_at, updated_at, ack_due_at, acknowledged_at, resolved_at"
)
UNIT_COLUMNS = "id, name, status, incident_id, updated_at"
_Q = re.compile(r"\?")


class Tx:
    """One open write (or read) transaction, whichever the backend."""

    def __init__(
        self,
        pg: bool,
        conn: Any,
        ts_in: Callable[[datetime], Any],
        ts_out: Callable[[Any], datetime],
        append: Callable[[Sequence[Draft]], Awaitable[list[Event]]],
        bump: Callable[[int], Awaitable[int]],
    ) -> None:
        self.pg = pg
        self.conn = conn
        self.ts_in = ts_in
        self.ts_out = ts_out
        self.append = append
        self.bump = bump  # take n seqs; returns the last one

    def sql(self, text: str) -> str:
        if not self.pg:
            return text
        n = iter(range(1, 10_000))
        return _Q.sub(lambda m: f"${next(n)}", text)

    def in_ids(self, column: str) -> str:
        return f"{column} = ANY(?::bigint[])" if self.pg else f"{column} IN (SELECT value FROM json_each(?))"

    def in_texts(self, column: str) -> str:
        return f"{column} = ANY(?::text[])" if self.pg else f"{column} IN (SELECT value FROM json_each(?))"

    def ids(self, values: Sequence[Any]) -> Any:
        """A list parameter for in_ids / in_texts."""
        return list(values) if self.pg else dumps(list(values))

    async def rows(self, text: str, *args: Any) -> list[Any]:
        if self.pg:
            return list(await self.conn.fetch(self.sql(text), *args))
        return list(await self.conn.execute_fetchall(text, args))

    async def execute(self, text: str, *args: Any) -> None:
        if self.pg:
            await self.conn.execute(self.sql(text), *args)
        else:
            await self.conn.execute(text, args)

    async def execute_many(self, text: str, rows: Sequence[Sequence[Any]]) -> None:
        """One round trip for many rows (asyncpg pipelines executemany)."""
        if not rows:
            return
        if self.pg:
            await self.conn.executemany(self.sql(text), rows)
        else:
            await self.conn.executemany(text, rows)

    async def new_ids(self, table: str, n: int) -> list[int]:
        """n fresh ids for `table`, taken before inserting so that a batch
        of rows goes in with one executemany."""
        if n == 0:
            return []
        if self.pg:
            rows = await self.conn.fetch(
                f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, $1)", n
            )
            return [int(r[0]) for r in rows]
        # SQLite: we hold the only write lock
        ((top,),) = await self.conn.execute_fetchall(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
        return list(range(int(top) + 1, int(top) + 1 + n))

    async def insert_id(self, text: str, *args: Any) -> int:
        rows = await self.rows(text + " RETURNING id", *args)
        return int(rows[0][0])

    def opt_ts(self, ts: datetime | None) -> Any:
        return None if ts is None else self.ts_in(to_utc(ts))

    def opt_ts_out(self, value: Any) -> datetime | None:
        return None if value is None else self.ts_out(value)


# -- rows <-> domain -------------------------------------------------------------


def incident_from_row(row: Any, tx: Tx) -> Incident:
    return Incident(
        id=row["id"],
        category=row["category"],
        sector=row["sector"],
        cell=row["cell"],
        lat=row["lat"],
        lon=row["lon"],
        status=row["status"],
        priority=row["priority"],
        pinned=bool(row["pinned"]),
        unit_id=row["unit_id"],
        alerts=tuple(loads(row["alerts"])),
        authors=tuple(loads(row["authors"])),
        vulnerable=bool(row["vulnerable"]),
        escalation=row["escalation"],
        created_at=tx.ts_out(row["created_at"]),
        updated_at=tx.ts_out(row["updated_at"]),
        ack_due_at=tx.ts_out(row["ack_due_at"]),
        acknowledged_at=tx.opt_ts_out(row["acknowledged_at"]),
        resolved_at=tx.opt_ts_out(row["resolved_at"]),
    )


def _incident_values(inc: Incident, tx: Tx) -> list[Any]:
    return [
        inc.category,
        inc.sector,
        inc.cell,
        inc.lat,
        inc.lon,
        inc.status,
        inc.priority,
        inc.pinned,
        inc.unit_id,
        dumps(list(inc.alerts)),
        dumps(list(inc.authors)),
        inc.vulnerable,
        inc.escalation,
        tx.ts_in(to_utc(inc.created_at)),
        tx.ts_in(to_utc(inc.updated_at)),
        tx.ts_in(to_utc(inc.ack_due_at)),
        tx.opt_ts(inc.acknowledged_at),
        tx.opt_ts(inc.resolved_at),
    ]


def unit_from_row(row: Any, tx: Tx) -> Unit:
    return Unit(row["id"], row["name"], row["status"], row["incident_id"], tx.ts_out(row["updated_at"]))


_WRITABLE = INCIDENT_COLUMNS.split(", ")[1:]
_INSERT_INCIDENT = (
    f"INSERT INTO incidents (id, {', '.join(_WRITABLE)}, history) VALUES (?, {', '.join('?' * len(_WRITABLE))}, '[]')"
)
_UPDATE_INCIDENT = f"UPDATE incidents SET {', '.join(f'{c} = ?' for c in _WRITABLE)} WHERE id = ?"


# -- reads -------------------------------------------------------------------------


async def incidents_by_id(tx: Tx, ids: Sequence[int], lock: bool = False) -> dict[int, Incident]:
    if not ids:
        return {}
    sql = f"SELECT {INCIDENT_COLUMNS} FROM incidents WHERE {tx.in_ids('id')} ORDER BY id"
    if lock and tx.pg:
        sql += " FOR UPDATE"
    return {r["id"]: incident_from_row(r, tx) for r in await tx.rows(sql, tx.ids(ids))}


async def history_of(tx: Tx, ids: Sequence[int]) -> dict[int, tuple[dict[str, Any], ...]]:
    """The incidents' histories, oldest entry first."""
    if not ids:
        return {}
    out: dict[int, list[dict[str, Any]]] = {}
    sql = f"SELECT incident_id, entry FROM incident_history WHERE {tx.in_ids('incident_id')} ORDER BY incident_id, id"
    for r in await tx.rows(sql, tx.ids(ids)):
        out.setdefault(r[0], []).append(loads(r[1]))
    return {i: tuple(h) for i, h in out.items()}


async def alerts_by_id(tx: Tx, ids: Sequence[int], lock: bool = False) -> dict[int, Alert]:
    if not ids:
        return {}
    sql = f"SELECT {ALERT_COLUMNS} FROM alerts WHERE {tx.in_ids('id')} ORDER BY id"
    if lock and tx.pg:
        sql += " FOR UPDATE"
    return {r["id"]: alert_from_row(r, tx.ts_out) for r in await tx.rows(sql, tx.ids(ids))}


async def units_by_id(tx: Tx, ids: Sequence[int], incidents: Sequence[int] = (), lock: bool = False) -> dict[int, Unit]:
    sql = f"SELECT {UNIT_COLUMNS} FROM units WHERE {tx.in_ids('id')} OR {tx.in_ids('incident_id')} ORDER BY id"
    if lock and tx.pg:
        sql += " FOR UPDATE"
    return {r["id"]: unit_from_row(r, tx) for r in await tx.rows(sql, tx.ids(ids), tx.ids(incidents))}


async def list_incidents(tx: Tx, q: IncidentQuery) -> list[Incident]:
    where, args = [], []
    if q.status == "open":
        where.append(tx.in_texts("status"))
        args.append(tx.ids(OPEN))
    elif q.status is not None:
        where.append("status = ?")
        args.append(q.status)
    for col in ("sector", "category"):
        if getattr(q, col) is not None:
            where.append(f"{col} = ?")
            args.append(getattr(q, col))
    if q.since is not None:
        where.append("created_at >= ?")
        args.append(tx.ts_in(to_utc(q.since)))
    sql = f"SELECT {INCIDENT_COLUMNS} FROM incidents"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY priority DESC, created_at ASC, id ASC LIMIT ?"
    args.append(max(0, q.limit))
    return [incident_from_row(r, tx) for r in await tx.rows(sql, *args)]


async def list_units(tx: Tx) -> list[Unit]:
    return [unit_from_row(r, tx) for r in await tx.rows(f"SELECT {UNIT_COLUMNS} FROM units ORDER BY name")]


async def overdue(tx: Tx, now: datetime, max_level: int, limit: int = 1000) -> list[tuple[int, str, datetime, int]]:
    """(id, category, created_at, escalation) of open, unacknowledged
    incidents past their acknowledgement target and not yet fully escalated."""
    rows = await tx.rows(
        "SELECT id, category, created_at, escalation FROM incidents WHERE acknowledged_at IS NULL"
        f" AND ack_due_at <= ? AND escalation < ? AND {tx.in_texts('status')} ORDER BY ack_due_at LIMIT ?",
        tx.ts_in(to_utc(now)),
        max_level,
        tx.ids(OPEN),
        limit,
    )
    return [(r[0], r[1], tx.ts_out(r[2]), r[3]) for r in rows]


# -- the generic write ---------------------------------------------------------------


async def load_state(
    tx: Tx, incident_ids: Sequence[int], alert_ids: Sequence[int], unit_ids: Sequence[int], now: datetime
) -> TriageState:
    incidents = await incidents_by_id(tx, incident_ids, lock=True)
    wanted = set(alert_ids)
    for inc in incidents.values():
        wanted.update(inc.alerts)
    alerts = await alerts_by_id(tx, sorted(wanted), lock=True)
    units = await units_by_id(tx, unit_ids, list(incidents), lock=True)
    return TriageState(incidents, alerts, units, now)


async def save(tx: Tx, change: Change) -> Saved:
    fresh = [inc for inc in change.incidents if inc.id < 0]
    ids = dict(zip((inc.id for inc in fresh), await tx.new_ids("incidents", len(fresh))))
    real = lambda i: ids.get(i, i)  # noqa: E731
    incidents = {real(inc.id): evolve(inc, id=real(inc.id)) if inc.id < 0 else inc for inc in change.incidents}
    await tx.execute_many(_INSERT_INCIDENT, [[ids[inc.id], *_incident_values(inc, tx)] for inc in fresh])
    await tx.execute_many(
        _UPDATE_INCIDENT, [[*_incident_values(inc, tx), inc.id] for inc in change.incidents if inc.id > 0]
    )
    # incidents are read without their history: what one has here, this change added
    await tx.execute_many(
        "INSERT INTO incident_history (incident_id, entry) VALUES (?, ?)",
        [[real(inc.id), dumps(entry)] for inc in change.incidents for entry in inc.history],
    )
    alerts = {
        a.id: a if a.incident is None or a.incident > 0 else evolve(a, incident=real(a.incident)) for a in change.alerts
    }
    await tx.execute_many(
        "UPDATE alerts SET status = ?, priority = ?, assignee = ?, notes = ?, updated_at = ?, incident = ? WHERE id = ?",
        [
            [a.status, a.priority, a.assignee, dumps(list(a.notes)), tx.ts_in(to_utc(a.updated_at)), a.incident, a.id]
            for a in alerts.values()
        ],
    )
    units: dict[int, Unit] = {}
    for u in change.units:
        u = dataclasses.replace(u, incident_id=None if u.incident_id is None else real(u.incident_id))
        await tx.execute(
            "UPDATE units SET status = ?, incident_id = ?, updated_at = ? WHERE id = ?",
            u.status,
            u.incident_id,
            tx.ts_in(to_utc(u.updated_at)),
            u.id,
        )
        units[u.id] = u
    return Saved(incidents, alerts, units, ids)


async def drafts(tx: Tx, change: Change, saved: Saved, now: datetime) -> list[Draft]:
    """The change's events, with seqs taken now (after any already taken)."""
    specs = change.render(saved)
    if not specs:
        return []
    last = await tx.bump(len(specs))
    first = last - len(specs) + 1
    return [Draft(first + k, s.type, s.data, to_utc(now), s.channels) for k, s in enumerate(specs)]


async def emit(tx: Tx, change: Change, saved: Saved, now: datetime) -> list[Event]:
    pending = await drafts(tx, change, saved, now)
    return await tx.append(pending) if pending else []


# -- the store methods, for both adapters ----------------------------------------------


class TriageStore:
    """What both stores share (triage and its reads; grouping new alerts is
    dispatch.adapters.grouping_sql). The adapter provides
    _write_tx() and _read_tx(), async context
    managers yielding a Tx, and sets self.grouping."""

    grouping: Grouping | None

    def _write_tx(self) -> Any:
        raise NotImplementedError

    async def create_alert_grouped(self, new: NewAlert) -> tuple[Alert, list[Event]]:
        raise NotImplementedError

    def _read_tx(self) -> Any:
        raise NotImplementedError

    async def triage(
        self,
        incident_ids: Sequence[int],
        alert_ids: Sequence[int],
        unit_ids: Sequence[int],
        decide: Callable[[TriageState], Change],
        now: datetime,
    ) -> tuple[Saved, list[Event]]:
        async with self._write_tx() as tx:
            await tx.bump(0)  # lock order: the counter row first, as create_alert does
            state = await load_state(tx, incident_ids, alert_ids, unit_ids, now)
            change = decide(state)
            saved = await save(tx, change)
            events = await emit(tx, change, saved, now)
        return saved, events

    async def get_incident(self, incident_id: int) -> Incident | None:
        async with self._read_tx() as tx:
            return (await incidents_by_id(tx, [incident_id])).get(incident_id)

    async def incident_history(self, incident_ids: Sequence[int]) -> dict[int, tuple[dict[str, Any], ...]]:
        async with self._read_tx() as tx:
            return await history_of(tx, incident_ids)

    async def incident_alerts(self, incident: Incident) -> list[Alert]:
        async with self._read_tx() as tx:
            found = await alerts_by_id(tx, list(incident.alerts))
        return [found[i] for i in incident.alerts if i in found]

    async def list_incidents(self, query: IncidentQuery) -> list[Incident]:
        async with self._read_tx() as tx:
            return await list_incidents(tx, query)

    async def list_units(self) -> list[Unit]:
        async with self._read_tx() as tx:
            return await list_units(tx)

    async def add_unit(self, name: str, now: datetime) -> Unit:
        async with self._write_tx() as tx:
            if await tx.rows("SELECT id FROM units WHERE name = ?", name):
                raise DuplicateUnit(name)
            uid = await tx.insert_id(
                "INSERT INTO units (name, status, incident_id, updated_at) VALUES (?, 'available', NULL, ?)",
                name,
                tx.ts_in(to_utc(now)),
            )
        return Unit(uid, name, "available", None, to_utc(now))

    async def overdue_incidents(self, now: datetime, max_level: int) -> list[tuple[int, str, datetime, int]]:
        async with self._read_tx() as tx:
            return await overdue(tx, now, max_level)
