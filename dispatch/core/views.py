"""What each audience sees of a domain value, as plain dicts ready for orjson.

Staff see everything. Residents never see an author or an exact point: only
the H3 cell and its centre (CONTRACT.md)."""

from __future__ import annotations

from typing import Any

import h3

from dispatch.core.model import Alert, Broadcast, iso


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
