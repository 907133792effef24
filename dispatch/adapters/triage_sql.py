"""Triage persistence shared by both stores, written once against
dialect.Dialect: incidents and units as rows, the reads triage needs, and the
generic write that saves a dispatch.core.changes.Change and appends the
events it renders. The store methods over these are store_base.SqlStore's.

An incident's history is in incident_history (append-only, migration 3),
not in the incidents row: an Incident read here has history (), and save()
appends whatever history a change gives a saved incident. Views that show
it read it with history_of (Store.incident_history)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from dispatch.adapters.dialect import Dialect, Params, Sql, locking
from dispatch.adapters.store_common import ALERT_COLUMNS, Draft, Row, alert_from_row, dumps, loads, to_utc
from dispatch.adapters.tx import Tx
from dispatch.core.changes import Change, Saved, TriageState
from dispatch.core.lifecycle import OPEN
from dispatch.core.model import Alert, Event, Incident, IncidentQuery, Unit, evolve

INCIDENT_COLUMNS = (
    "id, category, sector, cell, lat, lon, status, priority, pinned, unit_id, alerts, authors, vulnerable, "
    "escalation, created_at, updated_at, ack_due_at, acknowledged_at, resolved_at"
)
UNIT_COLUMNS = "id, name, status, incident_id, updated_at"


# -- rows <-> domain -------------------------------------------------------------


def incident_from_row(row: Row, d: Dialect) -> Incident:
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
        created_at=d.ts_column(row["created_at"]),
        updated_at=d.ts_column(row["updated_at"]),
        ack_due_at=d.ts_column(row["ack_due_at"]),
        acknowledged_at=d.opt_ts_column(row["acknowledged_at"]),
        resolved_at=d.opt_ts_column(row["resolved_at"]),
    )


def _incident_values(inc: Incident, d: Dialect) -> list[Any]:
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
        d.ts_param(inc.created_at),
        d.ts_param(inc.updated_at),
        d.ts_param(inc.ack_due_at),
        d.opt_ts_param(inc.acknowledged_at),
        d.opt_ts_param(inc.resolved_at),
    ]


def unit_from_row(row: Row, d: Dialect) -> Unit:
    return Unit(row["id"], row["name"], row["status"], row["incident_id"], d.ts_column(row["updated_at"]))


# -- statements ----------------------------------------------------------------------

INCIDENTS_BY_ID, INCIDENTS_BY_ID_LOCKED = locking(
    lambda d: f"SELECT {INCIDENT_COLUMNS} FROM incidents WHERE {d.in_ints('id')} ORDER BY id"
)
ALERTS_BY_ID, ALERTS_BY_ID_LOCKED = locking(
    lambda d: f"SELECT {ALERT_COLUMNS} FROM alerts WHERE {d.in_ints('id')} ORDER BY id"
)
UNITS_BY_ID, UNITS_BY_ID_LOCKED = locking(
    lambda d: f"SELECT {UNIT_COLUMNS} FROM units WHERE {d.in_ints('id')} OR {d.in_ints('incident_id')} ORDER BY id"
)
HISTORY = Sql(
    lambda d: (
        f"SELECT incident_id, entry FROM incident_history WHERE {d.in_ints('incident_id')} ORDER BY incident_id, id"
    )
)
UNITS = Sql(f"SELECT {UNIT_COLUMNS} FROM units ORDER BY name")
OVERDUE = Sql(
    lambda d: (
        "SELECT id, category, created_at, escalation FROM incidents WHERE acknowledged_at IS NULL"
        f" AND ack_due_at <= ? AND escalation < ? AND {d.in_texts('status')} ORDER BY ack_due_at LIMIT ?"
    )
)

_WRITABLE = INCIDENT_COLUMNS.split(", ")[1:]
INSERT_INCIDENT = Sql(
    f"INSERT INTO incidents (id, {', '.join(_WRITABLE)}, history) VALUES (?, {', '.join('?' * len(_WRITABLE))}, '[]')"
)
UPDATE_INCIDENT = Sql(f"UPDATE incidents SET {', '.join(f'{c} = ?' for c in _WRITABLE)} WHERE id = ?")
INSERT_HISTORY = Sql("INSERT INTO incident_history (incident_id, entry) VALUES (?, ?)")
UPDATE_ALERT = Sql(
    "UPDATE alerts SET status = ?, priority = ?, assignee = ?, notes = ?, updated_at = ?, incident = ? WHERE id = ?"
)
UPDATE_UNIT = Sql("UPDATE units SET status = ?, incident_id = ?, updated_at = ? WHERE id = ?")
UNIT_BY_NAME = Sql("SELECT id FROM units WHERE name = ?")
ADD_UNIT = Sql(
    "INSERT INTO units (name, status, incident_id, updated_at) VALUES (?, 'available', NULL, ?) RETURNING id"
)


# -- reads -------------------------------------------------------------------------


async def incidents_by_id(tx: Tx, ids: Sequence[int], lock: bool = False) -> dict[int, Incident]:
    if not ids:
        return {}
    d = tx.dialect
    sql = (INCIDENTS_BY_ID_LOCKED if lock else INCIDENTS_BY_ID).on(d)
    return {r["id"]: incident_from_row(r, d) for r in await tx.rows(sql, d.list_param(ids))}


async def history_of(tx: Tx, ids: Sequence[int]) -> dict[int, tuple[dict[str, Any], ...]]:
    """The incidents' histories, oldest entry first."""
    if not ids:
        return {}
    out: dict[int, list[dict[str, Any]]] = {}
    d = tx.dialect
    for r in await tx.rows(HISTORY.on(d), d.list_param(ids)):
        out.setdefault(r[0], []).append(loads(r[1]))
    return {i: tuple(h) for i, h in out.items()}


async def alerts_by_id(tx: Tx, ids: Sequence[int], lock: bool = False) -> dict[int, Alert]:
    if not ids:
        return {}
    d = tx.dialect
    sql = (ALERTS_BY_ID_LOCKED if lock else ALERTS_BY_ID).on(d)
    return {r["id"]: alert_from_row(r, d.ts_column) for r in await tx.rows(sql, d.list_param(ids))}


async def units_by_id(tx: Tx, ids: Sequence[int], incidents: Sequence[int] = (), lock: bool = False) -> dict[int, Unit]:
    d = tx.dialect
    sql = (UNITS_BY_ID_LOCKED if lock else UNITS_BY_ID).on(d)
    return {r["id"]: unit_from_row(r, d) for r in await tx.rows(sql, d.list_param(ids), d.list_param(incidents))}


async def list_incidents(tx: Tx, q: IncidentQuery) -> list[Incident]:
    d = tx.dialect
    p = Params(d)
    where = []
    if q.status == "open":
        where.append(d.in_texts("status", p.bind(d.list_param(OPEN))))
    elif q.status is not None:
        where.append(f"status = {p.bind(q.status)}")
    if q.sector is not None:
        where.append(f"sector = {p.bind(q.sector)}")
    if q.category is not None:
        where.append(f"category = {p.bind(q.category)}")
    if q.since is not None:
        where.append(f"created_at >= {p.bind(d.ts_param(q.since))}")
    sql = f"SELECT {INCIDENT_COLUMNS} FROM incidents"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY priority DESC, created_at ASC, id ASC LIMIT {p.bind(max(0, q.limit))}"
    return [incident_from_row(r, d) for r in await tx.rows(sql, *p.values)]


async def list_units(tx: Tx) -> list[Unit]:
    d = tx.dialect
    return [unit_from_row(r, d) for r in await tx.rows(UNITS.on(d))]


async def overdue(tx: Tx, now: datetime, max_level: int, limit: int = 1000) -> list[tuple[int, str, datetime, int]]:
    """(id, category, created_at, escalation) of open, unacknowledged
    incidents past their acknowledgement target and not yet fully escalated."""
    d = tx.dialect
    rows = await tx.rows(OVERDUE.on(d), d.ts_param(now), max_level, d.list_param(OPEN), limit)
    return [(r[0], r[1], d.ts_column(r[2]), r[3]) for r in rows]


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
    """Write the change: new incidents (negative ids) get real ones first, so
    every row goes in with one executemany per table."""
    d = tx.dialect
    fresh = [inc for inc in change.incidents if inc.id < 0]
    ids = dict(zip((inc.id for inc in fresh), await tx.new_ids("incidents", len(fresh))))

    def real(incident_id: int) -> int:
        return ids.get(incident_id, incident_id)

    incidents = {real(inc.id): evolve(inc, id=real(inc.id)) if inc.id < 0 else inc for inc in change.incidents}
    await tx.execute_many(INSERT_INCIDENT.on(d), [[ids[inc.id], *_incident_values(inc, d)] for inc in fresh])
    await tx.execute_many(
        UPDATE_INCIDENT.on(d), [[*_incident_values(inc, d), inc.id] for inc in change.incidents if inc.id > 0]
    )
    # incidents are read without their history: what one has here, this change added
    await tx.execute_many(
        INSERT_HISTORY.on(d), [[real(inc.id), dumps(entry)] for inc in change.incidents for entry in inc.history]
    )
    alerts = {
        a.id: a if a.incident is None or a.incident > 0 else evolve(a, incident=real(a.incident)) for a in change.alerts
    }
    await tx.execute_many(
        UPDATE_ALERT.on(d),
        [
            [a.status, a.priority, a.assignee, dumps(list(a.notes)), d.ts_param(a.updated_at), a.incident, a.id]
            for a in alerts.values()
        ],
    )
    units: dict[int, Unit] = {}
    for u in change.units:
        u = dataclasses.replace(u, incident_id=None if u.incident_id is None else real(u.incident_id))
        await tx.execute(UPDATE_UNIT.on(d), u.status, u.incident_id, d.ts_param(u.updated_at), u.id)
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
