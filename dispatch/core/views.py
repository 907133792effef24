"""What each audience sees of a domain value, as plain dicts ready for orjson.

Staff see everything. Residents never see an author or an exact point: only
the H3 cell and its centre (docs/reference.md)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import h3

from dispatch.core.lifecycle import is_overdue
from dispatch.core.model import Alert, Broadcast, Incident, Unit, iso


def alert_staff(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "category": alert.category,
        "lat": alert.lat,
        "lon": alert.lon,
        "text": alert.text,
        "sector": alert.sector,
        "cell": alert.cell,
        "status": alert.status,
        "priority": alert.priority,
        "assignee": alert.assignee,
        "created_at": iso(alert.created_at),
        "updated_at": iso(alert.updated_at),
        "author": alert.author,
        "client_id": alert.client_id,
        "notes": list(alert.notes),
        "seq": alert.seq,
        "incident": alert.incident,
    }


def cell_center(cell: str) -> dict[str, float]:
    lat, lon = h3.cell_to_latlng(cell)
    return {"lat": round(lat, 6), "lon": round(lon, 6)}


def alert_resident(staff: dict[str, Any]) -> dict[str, Any]:
    """Anonymise the staff view (an event's data) for residents."""
    return {
        "id": staff["id"],
        "category": staff["category"],
        "text": staff["text"],
        "sector": staff["sector"],
        "cell": staff["cell"],
        "center": cell_center(staff["cell"]),
        "status": staff["status"],
        "created_at": staff["created_at"],
    }


def broadcast_view(b: Broadcast) -> dict[str, Any]:
    target: dict[str, Any]
    if b.circle is not None:
        target = {"circle": {"lat": b.circle.lat, "lon": b.circle.lon, "radius_m": b.circle.radius_m}}
    else:
        target = {"sectors": list(b.sectors or ())}
    return {
        "id": b.id,
        "text": b.text,
        "level": b.level,
        "recipients": b.recipients,
        "created_at": iso(b.created_at),
        "author": b.author,
        **target,
    }


def broadcast_resident(staff: dict[str, Any]) -> dict[str, Any]:
    out = {k: staff[k] for k in ("id", "text", "level", "created_at")}
    return out


def incident_view(
    inc: Incident, now: datetime, units: Mapping[int, Unit] | None = None, history: bool = False
) -> dict[str, Any]:
    unit: dict[str, Any] | None = None
    if inc.unit_id is not None:
        u = (units or {}).get(inc.unit_id)
        unit = {"id": inc.unit_id, "name": u.name if u else None}
    view: dict[str, Any] = {
        "id": inc.id,
        "category": inc.category,
        "sector": inc.sector,
        "cell": inc.cell,
        "lat": inc.lat,
        "lon": inc.lon,
        "status": inc.status,
        "priority": round(inc.priority, 2),
        "pinned": inc.pinned,
        "witnesses": inc.witnesses,
        "alerts": list(inc.alerts),
        "unit": unit,
        "vulnerable": inc.vulnerable,
        "escalation": inc.escalation,
        "created_at": iso(inc.created_at),
        "updated_at": iso(inc.updated_at),
        "ack_due_at": iso(inc.ack_due_at),
        "acknowledged_at": iso(inc.acknowledged_at) if inc.acknowledged_at else None,
        "resolved_at": iso(inc.resolved_at) if inc.resolved_at else None,
        "overdue": is_overdue(inc, now),
    }
    if history:
        view["history"] = list(inc.history)
    return view


def unit_view(u: Unit) -> dict[str, Any]:
    return {"id": u.id, "name": u.name, "status": u.status, "incident": u.incident_id, "updated_at": iso(u.updated_at)}
