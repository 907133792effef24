"""The statements of accounts, alerts and the event log that both stores run
alike, each written once (dialect.Sql), and the list_alerts query builder.
What only one backend runs, because it takes fewer round trips there (array
parameters on PostgreSQL, executemany on SQLite), is in store_sqlite_sql.py
and store_postgres_sql.py."""

from __future__ import annotations

from typing import Any

from dispatch.adapters.dialect import Dialect, Params, Sql
from dispatch.adapters.store_common import (
    ALERT_COLUMNS,
    BROADCAST_COLUMNS,
    EVENT_COLUMNS,
    RESIDENT_ROLES_SQL,
    USER_COLUMNS,
)
from dispatch.core.model import AlertQuery


def _qualified(alias: str, columns: str) -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in columns.split(","))


# -- accounts -------------------------------------------------------------------

# the account that may log in with this e-mail: a disabled one may not
USER_BY_EMAIL = Sql(f"SELECT {USER_COLUMNS} FROM users WHERE email = ? AND disabled_at IS NULL")
USER_BY_ID = Sql(f"SELECT {USER_COLUMNS} FROM users WHERE id = ?")
# several accounts may give one phone (a proxy and its relative's): the
# oldest validated one is the sender (an SMS says nothing more)
USER_BY_PHONE = Sql(
    f"SELECT {USER_COLUMNS} FROM users WHERE phone = ? AND disabled_at IS NULL AND status = 'validated'"
    " ORDER BY created_at, id LIMIT 1"
)
TAKEN_EMAILS = Sql(lambda d: f"SELECT email FROM users WHERE {d.in_texts('email')}")
END_SESSIONS_OF_USER = Sql("DELETE FROM sessions WHERE user_id = ?")
END_SESSION = Sql("DELETE FROM sessions WHERE token_hash = ?")
ADD_SESSION = Sql(
    "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, last_used_at, wall) VALUES (?, ?, ?, ?, ?, ?)"
)
# sessions from before migration 5 have no last_used_at: their creation stands in
SESSION = Sql(
    f"SELECT {_qualified('u', USER_COLUMNS)}, s.wall, COALESCE(s.last_used_at, s.created_at) AS last_used_at"
    " FROM sessions s JOIN users u ON u.id = s.user_id"
    " WHERE s.token_hash = ? AND s.expires_at > ? AND u.disabled_at IS NULL"
)
SESSIONS = Sql(
    lambda d: (
        f"SELECT {_qualified('u', USER_COLUMNS)}, s.wall, COALESCE(s.last_used_at, s.created_at) AS last_used_at,"
        f" s.token_hash FROM sessions s JOIN users u ON u.id = s.user_id"
        f" WHERE {d.in_texts('s.token_hash')} AND s.expires_at > ? AND u.disabled_at IS NULL"
    )
)
TOUCH_SESSION = Sql("UPDATE sessions SET last_used_at = ? WHERE token_hash = ?")
SET_PASSWORD = Sql("UPDATE users SET password_hash = ? WHERE email = ? RETURNING id")
DISABLE_USER = Sql("UPDATE users SET disabled_at = COALESCE(disabled_at, ?) WHERE email = ? RETURNING id")
# (id, role, email, status): "disabled" wins over the account's standing
_ACCOUNTS = (
    "SELECT id, role, email, CASE WHEN disabled_at IS NOT NULL THEN 'disabled' ELSE status END AS status FROM users"
)
LIST_ACCOUNTS = Sql(_ACCOUNTS + " ORDER BY id")
LIST_ACCOUNTS_OF = Sql(_ACCOUNTS + " WHERE role = ? ORDER BY id")
_RESIDENT_HOMES = (
    "SELECT id, home_lat, home_lon, home_sector FROM users"
    f" WHERE status = 'validated' AND role IN {RESIDENT_ROLES_SQL} AND home_lat IS NOT NULL AND home_lon IS NOT NULL"
)
RESIDENT_HOMES = Sql(_RESIDENT_HOMES + " ORDER BY id")
RESIDENT_HOMES_IN = Sql(lambda d: f"{_RESIDENT_HOMES} AND {d.in_texts('home_sector')} ORDER BY id")
# every home, for set_home_sectors: locked, since the new sectors are
# computed in Python from what is read
HOMES = Sql(
    lambda d: (
        "SELECT id, home_lat, home_lon, home_sector FROM users"
        f" WHERE home_lat IS NOT NULL AND home_lon IS NOT NULL ORDER BY id{d.lock_rows}"
    )
)

# -- alerts and broadcasts -----------------------------------------------------------

GET_ALERT = Sql(f"SELECT {ALERT_COLUMNS} FROM alerts WHERE id = ?")
GET_BROADCAST = Sql(f"SELECT {BROADCAST_COLUMNS} FROM broadcasts WHERE id = ?")
BROADCASTS_SINCE = Sql(
    f"SELECT {BROADCAST_COLUMNS} FROM broadcasts WHERE created_at >= ? ORDER BY created_at DESC, id DESC LIMIT ?"
)


def alert_query_sql(q: AlertQuery, d: Dialect) -> tuple[str, list[Any]]:
    """SELECT for list_alerts: values only ever travel as parameters."""
    p = Params(d)
    where: list[str] = []
    if q.status is not None:
        where.append(f"status = {p.bind(q.status)}")
    if q.sector is not None:
        where.append(f"sector = {p.bind(q.sector)}")
    if q.category is not None:
        where.append(f"category = {p.bind(q.category)}")
    if q.since is not None:
        where.append(f"created_at >= {p.bind(d.ts_param(q.since))}")
    if q.author is not None:
        where.append(f"author = {p.bind(q.author)}")
    if q.visible_only:
        where.append("NOT hidden")
    if q.ids is not None:
        where.append(d.in_ints("id", p.bind(d.list_param([int(i) for i in q.ids]))))
    sql = f"SELECT {ALERT_COLUMNS} FROM alerts"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY created_at DESC, id DESC LIMIT {p.bind(max(0, q.limit))}"
    return sql, p.values


# -- the event log -------------------------------------------------------------------

BUMP_BY = Sql("UPDATE event_seq SET value = value + ? WHERE id = 1 RETURNING value")
HEAD_SEQ = Sql("SELECT value FROM event_seq WHERE id = 1")
CHANNEL_HEADS = Sql(lambda d: f"SELECT channel, last FROM channel_heads WHERE {d.in_texts('channel')}")
EVENTS_AFTER = Sql(f"SELECT {EVENT_COLUMNS} FROM events WHERE seq > ? ORDER BY seq LIMIT ?")
EVENTS_AFTER_ON = Sql(
    f"SELECT {_qualified('e', EVENT_COLUMNS)} FROM event_channels c JOIN events e ON e.seq = c.seq"
    " WHERE c.channel = ? AND c.seq > ? ORDER BY c.seq LIMIT ?"
)
