"""The statements of export, erasure and purge (issue 20), written once for
both stores (dialect.Sql), and the one routine that makes alerts and
incidents anonymous with their stored events (store_privacy uses it for an
erasure and for a purge alike)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from dispatch.adapters.dialect import Sql
from dispatch.adapters.store_common import RESIDENT_ROLES_SQL, dumps, loads
from dispatch.adapters.tx import Tx
from dispatch.core.lifecycle import CLOSED
from dispatch.core.retention import (
    ALERT_EVENTS,
    INCIDENT_EVENTS,
    anonymous_alert_data,
    anonymous_incident_data,
    anonymous_point,
    without_authors,
    without_note,
)

_CLOSED_SQL = "(" + ", ".join(f"'{s}'" for s in CLOSED) + ")"

# -- export -----------------------------------------------------------------------

EXPORT_ACCOUNT = Sql(
    "SELECT id, role, email, name, address, phone, on_behalf_of, home_lat, home_lon, home_sector, status,"
    " status_reason, created_at, decided_at, disabled_at FROM users WHERE id = ?"
)
EXPORT_PROOFS = Sql("SELECT id, media_type, size, created_at, decided_at FROM proofs WHERE user_id = ? ORDER BY id")
EXPORT_SESSIONS = Sql(
    "SELECT created_at, expires_at, last_used_at, wall FROM sessions WHERE user_id = ? ORDER BY created_at"
)
EXPORT_FLAGS = Sql("SELECT id, alert_id, reason, created_at, resolved_at FROM flags WHERE user_id = ? ORDER BY id")
EXPORT_NOTIFY = Sql("SELECT channels, levels, categories, updated_at FROM notify_settings WHERE user_id = ?")
EXPORT_PUSH = Sql("SELECT endpoint, created_at FROM push_subscriptions WHERE user_id = ? ORDER BY id")
EXPORT_MESSAGES = Sql(
    "SELECT kind, ref_id, channel, dest, subject, body, status, created_at, sent_at FROM outbox"
    " WHERE user_id = ? ORDER BY id"
)
EXPORT_PROOF_VIEWS = Sql("SELECT viewer, proof_id, at FROM proof_views WHERE account = ? ORDER BY id")

# -- erasure ------------------------------------------------------------------------

RESIDENT_EXISTS = Sql(f"SELECT id FROM users WHERE id = ? AND role IN {RESIDENT_ROLES_SQL}")
ALERTS_BY = Sql("SELECT id, cell FROM alerts WHERE author = ? ORDER BY id")
PROOF_FILES_OF = Sql("SELECT file_name FROM proofs WHERE user_id = ?")
DELETE_FLAGS_OF = Sql("DELETE FROM flags WHERE user_id = ?")
DELETE_PROOFS_OF = Sql("DELETE FROM proofs WHERE user_id = ?")
DELETE_SESSIONS_OF = Sql("DELETE FROM sessions WHERE user_id = ?")
DELETE_NOTIFY_OF = Sql("DELETE FROM notify_settings WHERE user_id = ?")
DELETE_PUSH_OF = Sql("DELETE FROM push_subscriptions WHERE user_id = ?")
# a message not sent yet has nobody to go to; one that left stays as a count
# for its broadcast's receipts, without its address or text
DELETE_QUEUED_MESSAGES_OF = Sql("DELETE FROM outbox WHERE user_id = ? AND status = 'queued'")
BLANK_MESSAGES_OF = Sql("UPDATE outbox SET dest = '', subject = '', body = '' WHERE user_id = ?")
BLANK_OLD_MESSAGES = Sql(
    "UPDATE outbox SET dest = '', subject = '', body = '' WHERE id IN (SELECT id FROM outbox"
    " WHERE status <> 'queued' AND dest <> '' AND COALESCE(sent_at, created_at) < ? LIMIT ?) RETURNING id"
)
DELETE_USER = Sql("DELETE FROM users WHERE id = ?")
INCIDENTS_WITH_AUTHOR = Sql(
    lambda d: (
        "SELECT id, cell, authors FROM incidents WHERE "
        + (
            "authors::jsonb @> ?::jsonb"
            if d.name == "postgres"
            else "EXISTS (SELECT 1 FROM json_each(authors) WHERE value = json_extract(?, '$[0]'))"
        )
    )
)

# -- purge ----------------------------------------------------------------------------

EXPIRED_ALERTS = Sql(
    f"SELECT id, cell FROM alerts WHERE coarsened_at IS NULL AND status IN {_CLOSED_SQL} AND updated_at < ?"
    " ORDER BY id LIMIT ?"
)
EXPIRED_INCIDENTS = Sql(
    f"SELECT id, cell, authors FROM incidents WHERE coarsened_at IS NULL AND status IN {_CLOSED_SQL}"
    " AND updated_at < ? ORDER BY id LIMIT ?"
)
EXPIRED_PROOFS = Sql("SELECT id, file_name FROM proofs WHERE decided_at < ? ORDER BY id LIMIT ?")
DELETE_PROOF = Sql("DELETE FROM proofs WHERE id = ?")
EXPIRED_ACCOUNTS = Sql(
    f"SELECT id FROM users WHERE status = 'rejected' AND role IN {RESIDENT_ROLES_SQL}"
    " AND COALESCE(decided_at, created_at) < ? ORDER BY id LIMIT ?"
)
DELETE_EXPIRED_SESSIONS = Sql("DELETE FROM sessions WHERE expires_at < ? RETURNING user_id")
ADD_PURGE_RUN = Sql("INSERT INTO purge_runs (at, as_of, counts) VALUES (?, ?, ?) RETURNING id")
# one purge at a time across the workers of a deployment ("prge" in ASCII)
PURGE_LOCK_KEY = 0x70726765

# -- anonymising ----------------------------------------------------------------------

ANONYMISE_ALERT = Sql(
    "UPDATE alerts SET author = NULL, lat = ?, lon = ?, text = '', client_id = NULL, notes = '[]',"
    " coarsened_at = COALESCE(coarsened_at, ?) WHERE id = ?"
)
ANONYMISE_INCIDENT = Sql(
    "UPDATE incidents SET lat = ?, lon = ?, authors = ?, coarsened_at = COALESCE(?, coarsened_at) WHERE id = ?"
)
EVENTS_OF = Sql(
    lambda d: (
        "SELECT seq, type, data FROM events WHERE "
        + d.in_texts("type", "?")
        + " AND "
        + (
            "(data::jsonb->>'id')::bigint = ANY(?::bigint[])"
            if d.name == "postgres"
            else "json_extract(data, '$.id') IN (SELECT value FROM json_each(?))"
        )
    )
)
SET_EVENT_DATA = Sql("UPDATE events SET data = ? WHERE seq = ?")
HISTORY_OF = Sql(lambda d: f"SELECT id, entry FROM incident_history WHERE {d.in_ints('incident_id')}")
SET_HISTORY_ENTRY = Sql("UPDATE incident_history SET entry = ? WHERE id = ?")


async def anonymise_alerts(tx: Tx, rows: Sequence[tuple[int, str]], now: datetime) -> None:
    """(id, cell) of alerts: no author, point at the cell's centre, no text
    or notes; their stored events alike (replays carry nothing more)."""
    d = tx.dialect
    if not rows:
        return
    at = d.ts_param(now)
    await tx.execute_many(ANONYMISE_ALERT.on(d), [(*anonymous_point(cell), at, i) for i, cell in rows])
    await _rewrite_events(tx, ALERT_EVENTS, [i for i, _ in rows], anonymous_alert_data)


async def anonymise_incidents(
    tx: Tx, rows: Sequence[tuple[int, str, str]], erased: Sequence[int] | None, mark: datetime | None
) -> None:
    """(id, cell, authors JSON) of incidents: the point at the cell's centre
    (it is the first report's exact point), the `erased` authors (all when
    None) replaced by placeholders, and their stored events alike. With
    `mark`, the incident is marked coarsened then (a purge: done once), and
    its history loses the operators' notes."""
    d = tx.dialect
    if not rows:
        return
    at = d.opt_ts_param(mark)
    updates = [(*anonymous_point(cell), dumps(without_authors(loads(a), erased)), at, i) for i, cell, a in rows]
    await tx.execute_many(ANONYMISE_INCIDENT.on(d), updates)
    ids = [i for i, _, _ in rows]
    await _rewrite_events(tx, INCIDENT_EVENTS, ids, anonymous_incident_data)
    if mark is not None:
        history = await tx.rows(HISTORY_OF.on(d), d.list_param(ids))
        notes = [(r["id"], loads(r["entry"])) for r in history]
        await tx.execute_many(SET_HISTORY_ENTRY.on(d), [(dumps(without_note(e)), k) for k, e in notes if "note" in e])


SET_TEXT_HIDDEN = Sql("UPDATE alerts SET text_hidden = ?, updated_at = ? WHERE id = ?")


async def mark_text_hidden(tx: Tx, alert_id: int, hidden: bool) -> None:
    """The alert's stored events say whether its text is hidden, so that a
    replay to residents leaves it out (core.views.alert_resident) while
    staff replays keep it."""
    await _rewrite_events(tx, ALERT_EVENTS, [alert_id], lambda data: {**data, "text_hidden": hidden})


async def _rewrite_events(
    tx: Tx, types: Sequence[str], ids: Sequence[int], how: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    d = tx.dialect
    found = await tx.rows(EVENTS_OF.on(d), d.list_param(list(types)), d.list_param(list(ids)))
    changed = []
    for row in found:
        data = loads(row["data"])
        new = how(data)
        if new != data:
            changed.append((dumps(new), row["seq"]))
    await tx.execute_many(SET_EVENT_DATA.on(d), changed)
