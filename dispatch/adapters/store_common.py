"""What the SQLite and PostgreSQL stores share besides SQL text: column
lists, row -> domain decoding, time and JSON encoding, event chaining (Draft,
link) and the small checks. The shared statements are in store_base.py,
triage_sql.py and grouping_sql.py, written against dialect.Dialect.

Rows are anything indexable by column name (sqlite3.Row, asyncpg.Record).
Timestamps differ per backend (ISO text in SQLite, timestamptz in
PostgreSQL), so the decoders take a `ts` function turning the stored value
into an aware UTC datetime (Dialect.ts_column)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from dispatch.core.model import (
    Alert,
    Broadcast,
    Circle,
    Event,
    NewAlert,
    NewUser,
    User,
)
from dispatch.core.zones import polygon_geojson, polygon_of
from dispatch.ports.store import DuplicateEmail
from geo.polygon import Polygon

USER_COLUMNS = (
    "id, role, email, password_hash, name, home_lat, home_lon, home_sector, validated, created_at, "
    "status, status_reason, address, phone, on_behalf_of"
)
ALERT_COLUMNS = (
    "id, author, category, lat, lon, text, client_id, sector, cell, status, priority, assignee, notes, "
    "created_at, updated_at, seq, incident, hidden, hide_reason, text_hidden"
)
BROADCAST_COLUMNS = "id, author, sectors, circle, text, level, recipients, created_at, seq, polygon"
EVENT_COLUMNS = "seq, type, data, created_at, links"

RESIDENT_ROLES_SQL = "('resident', 'referent')"

Row = Any
TsDecoder = Callable[[Any], datetime]


# -- time -------------------------------------------------------------------


def to_utc(ts: datetime) -> datetime:
    """Aware UTC. A naive datetime is taken to be UTC (not local time)."""
    if ts.tzinfo is None:
        return ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC)


def ts_text(ts: datetime) -> str:
    """Fixed-width ISO 8601 UTC text (SQLite): sorts like the instants."""
    return to_utc(ts).isoformat(timespec="microseconds")


def ts_from_text(value: str) -> datetime:
    return to_utc(datetime.fromisoformat(value))


def ts_identity(value: datetime) -> datetime:
    return value


# -- JSON ---------------------------------------------------------------------


def dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def loads(value: str | bytes | None) -> Any:
    return None if value is None else orjson.loads(value)


# -- rows -> domain -----------------------------------------------------------


def user_from_row(row: Row, ts: TsDecoder) -> User:
    return User(
        id=row["id"],
        role=row["role"],
        email=row["email"],
        password_hash=row["password_hash"],
        name=row["name"],
        home_lat=row["home_lat"],
        home_lon=row["home_lon"],
        home_sector=row["home_sector"],
        status=row["status"],
        created_at=ts(row["created_at"]),
        reason=row["status_reason"],
        address=row["address"],
        phone=row["phone"],
        on_behalf_of=row["on_behalf_of"],
    )


def alert_from_row(row: Row, ts: TsDecoder) -> Alert:
    return Alert(
        id=row["id"],
        author=row["author"],
        category=row["category"],
        lat=row["lat"],
        lon=row["lon"],
        text=row["text"],
        client_id=row["client_id"],
        sector=row["sector"],
        cell=row["cell"],
        status=row["status"],
        priority=row["priority"],
        assignee=row["assignee"],
        created_at=ts(row["created_at"]),
        updated_at=ts(row["updated_at"]),
        seq=row["seq"],
        notes=tuple(loads(row["notes"]) or ()),
        incident=row["incident"],
        hidden=bool(row["hidden"]),
        hide_reason=row["hide_reason"],
        text_hidden=bool(row["text_hidden"]),
    )


def broadcast_from_row(row: Row, ts: TsDecoder) -> Broadcast:
    sectors = loads(row["sectors"])
    circle = loads(row["circle"])
    polygon = loads(row["polygon"])
    return Broadcast(
        id=row["id"],
        author=row["author"],
        sectors=None if sectors is None else tuple(sectors),
        circle=None if circle is None else Circle(**circle),
        text=row["text"],
        level=row["level"],
        recipients=row["recipients"],
        created_at=ts(row["created_at"]),
        seq=row["seq"],
        polygon=None if polygon is None else polygon_of(polygon),
    )


def event_from_row(row: Row, ts: TsDecoder) -> Event:
    return Event(
        seq=row["seq"],
        type=row["type"],
        data=orjson.loads(row["data"]),
        created_at=ts(row["created_at"]),
        links=orjson.loads(row["links"]),
    )


@dataclasses.dataclass(frozen=True)
class Draft:
    """An event about to be appended: its seq is already taken."""

    seq: int
    type: str
    data: dict[str, Any]
    created_at: datetime
    channels: Sequence[str]


def link(drafts: Sequence[Draft], heads: Mapping[str, int]) -> tuple[list[Event], dict[str, int]]:
    """Chain each draft, in seq order, to the previous event of each of its
    channels; returns the events and the channels' new heads."""
    heads = dict(heads)
    events = []
    for d in sorted(drafts, key=lambda d: d.seq):
        links = {c: heads.get(c, 0) for c in d.channels}
        for c in d.channels:
            heads[c] = d.seq
        events.append(Event(d.seq, d.type, d.data, d.created_at, links))
    return events, heads


def channels_of(drafts: Sequence[Draft]) -> list[str]:
    return sorted({c for d in drafts for c in d.channels})


# -- domain -> rows -----------------------------------------------------------


def provisional_alert(new: NewAlert, alert_id: int = 0, seq: int = 0) -> Alert:
    """The Alert create_alert_grouped stores, before the database names it."""
    created = to_utc(new.created_at)
    return Alert(
        id=alert_id,
        author=new.author,
        category=new.category,
        lat=new.lat,
        lon=new.lon,
        text=new.text,
        client_id=new.client_id,
        sector=new.sector,
        cell=new.cell,
        status="new",
        priority=new.priority,
        assignee=None,
        created_at=created,
        updated_at=created,
        seq=seq,
        notes=(),
    )


def circle_json(circle: Circle | None) -> str | None:
    return None if circle is None else dumps({"lat": circle.lat, "lon": circle.lon, "radius_m": circle.radius_m})


def polygon_json(polygon: Polygon | None) -> str | None:
    return None if polygon is None else dumps(polygon_geojson(polygon))


def sectors_json(sectors: Sequence[str] | None) -> str | None:
    return None if sectors is None else dumps(list(sectors))


def norm_email(email: str) -> str:
    return email.lower()


def check_duplicates(users: Sequence[NewUser], existing: set[str]) -> None:
    """Raise DuplicateEmail for the first entry whose (lower-cased) email is
    taken, by a stored account or by an earlier entry of the batch."""
    seen: set[str] = set()
    for i, u in enumerate(users):
        e = norm_email(u.email)
        if e in existing or e in seen:
            raise DuplicateEmail(u.email, i)
        seen.add(e)


def user_record(u: NewUser) -> tuple[Any, ...]:
    """The columns add_users writes, created_at apart; `validated` is kept
    equal to status = 'validated' (migration 4)."""
    status = u.account_status
    return (
        u.role,
        norm_email(u.email),
        u.password_hash,
        u.name,
        u.home_lat,
        u.home_lon,
        u.home_sector,
        status == "validated",
        status,
    )


def home_changes(rows: Sequence[Row], assign: Callable[[float, float], str | None]) -> list[tuple[int, str | None]]:
    """(id, new_sector) for the rows (id, home_lat, home_lon, home_sector)
    whose sector changes."""
    out: list[tuple[int, str | None]] = []
    for row in rows:
        sector = assign(row["home_lat"], row["home_lon"])
        if sector != row["home_sector"]:
            out.append((row["id"], sector))
    return out
