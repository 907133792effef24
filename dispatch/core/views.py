"""What each audience sees of a domain value, as plain dicts ready for orjson.

Operators see everything. Everything that reaches a resident is built here,
by the functions named *_resident (and alert_own, the author's own alert,
me_view, the caller's own account): never an author, another account, or an
exact point other than the caller's own; only the H3 cell and its centre
(docs/reference.md). Moderators see alerts as residents do, plus what
moderation needs (alert_moderation, account_view)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import h3

from dispatch.core.lifecycle import is_overdue
from dispatch.core.model import Alert, Broadcast, Incident, Proof, Unit, User, iso
from dispatch.core.zones import polygon_geojson


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
        "hidden": alert.hidden,
        "hide_reason": alert.hide_reason,
        "text_hidden": alert.text_hidden,
    }


def cell_center(cell: str) -> dict[str, float]:
    lat, lon = h3.cell_to_latlng(cell)
    return {"lat": round(lat, 6), "lon": round(lon, 6)}


def alert_resident(staff: dict[str, Any]) -> dict[str, Any]:
    """Anonymise the staff view (an event's data) for residents. A text a
    moderator hid is left out (empty), the alert itself stays."""
    return {
        "id": staff["id"],
        "category": staff["category"],
        "text": "" if staff.get("text_hidden") else staff["text"],
        "sector": staff["sector"],
        "cell": staff["cell"],
        "center": cell_center(staff["cell"]),
        "status": staff["status"],
        "created_at": staff["created_at"],
    }


def alert_own(staff: dict[str, Any]) -> dict[str, Any]:
    """The author's own alert (the answer to POST /api/alerts): its exact
    point and ids are the author's, but not what operators wrote on it."""
    return {k: v for k, v in staff.items() if k not in ("notes", "assignee", "hide_reason")}


def alert_status_resident(data: dict[str, Any]) -> dict[str, Any]:
    return {k: data[k] for k in ("id", "status", "updated_at")}


def alert_removed_resident(data: dict[str, Any]) -> dict[str, Any]:
    return {"id": data["id"]}


def alert_text_resident(data: dict[str, Any]) -> dict[str, Any]:
    """The text residents may read now: empty while a moderator hides it."""
    return {"id": data["id"], "text": alert_resident(data)["text"]}


def alert_moderation(staff: dict[str, Any], with_author: bool = False) -> dict[str, Any]:
    """Moderators' view: a resident's, plus whether it is hidden, and (in
    moderation routes) the author's account id, to suspend it."""
    view = {
        **alert_resident(staff),
        "text": staff["text"],  # staff read a text hidden from residents, flagged text_hidden
        "hidden": staff["hidden"],
        "hide_reason": staff["hide_reason"],
        "text_hidden": staff.get("text_hidden", False),
    }
    if with_author:
        view["author"] = staff["author"]
    return view


def broadcast_view(b: Broadcast) -> dict[str, Any]:
    """Staff view, and the data of its broadcast.sent event: `target` names
    the kind, and the key of that name holds it."""
    target: dict[str, Any]
    if b.circle is not None:
        target = {
            "target": "circle",
            "circle": {"lat": b.circle.lat, "lon": b.circle.lon, "radius_m": b.circle.radius_m},
        }
    elif b.polygon is not None:
        target = {"target": "polygon", "polygon": polygon_geojson(b.polygon)}
    else:
        target = {"target": "sectors", "sectors": list(b.sectors or ())}
    return {
        "id": b.id,
        "text": b.text,
        "level": b.level,
        "recipients": b.recipients,
        "created_at": iso(b.created_at),
        "seq": b.seq,
        "author": b.author,
        **target,
    }


def broadcast_resident(staff: dict[str, Any]) -> dict[str, Any]:
    """What a resident sees of a broadcast, live and in GET /api/broadcasts:
    never its author, its target or how many it reached."""
    out = {k: staff[k] for k in ("id", "level", "text", "created_at")}
    out["seq"] = staff.get("seq")  # events stored before issue 18 lack it; their envelope has it
    return out


def me_view(user: User) -> dict[str, Any]:
    """GET /api/me: the caller's own account."""
    body: dict[str, Any] = {
        "user_id": user.id,
        "role": user.role,
        "name": user.name,
        "email": user.email,
        "status": user.status,
    }
    if user.status in ("rejected", "suspended"):
        body["reason"] = user.reason
    home = user.home
    if home is not None:
        body["home"] = {"lat": home.lat, "lon": home.lon, "sector": home.sector}
    for key in ("address", "phone", "on_behalf_of"):
        if getattr(user, key) is not None:
            body[key] = getattr(user, key)
    return body


def account_view(user: User, proof: Proof | None) -> dict[str, Any]:
    """An account as moderation lists it: who applied, for which home, with
    which proof (its file is only behind the audited proof route)."""
    return {
        "id": user.id,
        "role": user.role,
        "name": user.name,
        "email": user.email,
        "address": user.address,
        "phone": user.phone,
        "on_behalf_of": user.on_behalf_of,
        "home": None if user.home is None else {"lat": user.home_lat, "lon": user.home_lon, "sector": user.home_sector},
        "status": user.status,
        "reason": user.reason,
        "created_at": iso(user.created_at),
        "proof": None
        if proof is None
        else {"media_type": proof.media_type, "size": proof.size, "created_at": iso(proof.created_at)},
    }


def incident_view(
    inc: Incident,
    now: datetime,
    units: Mapping[int, Unit] | None = None,
    history: bool = False,
    names: Mapping[int, str] | None = None,
) -> dict[str, Any]:
    """`names`: staff display names by account id, for the history's
    "actor_name" (null for the system, or an account since erased)."""
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
        known = names or {}
        view["history"] = [
            {**e, "actor_name": None if e.get("actor") is None else known.get(e["actor"])} for e in inc.history
        ]
    return view


def unit_view(u: Unit) -> dict[str, Any]:
    return {"id": u.id, "name": u.name, "status": u.status, "incident": u.incident_id, "updated_at": iso(u.updated_at)}
