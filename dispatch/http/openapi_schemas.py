"""The shapes several operations share, as OpenAPI components: the error,
alerts in each audience's view, incidents, units, accounts, broadcasts.

Each mirrors one function of dispatch/core/views.py (or the use case that
shapes it); the schemathesis run (tests/test_schemathesis_e2e.py) checks
every answer against them, so a view that gains or loses a key fails there.
The residents' views are closed (additionalProperties false): a key added to
them is a key that reaches residents, which tests/test_pseudonymity.py
guards, and this document must say so before it ships."""

from __future__ import annotations

from dispatch.core.categories import CATEGORIES
from dispatch.core.lifecycle import STATUSES
from dispatch.core.model import ACCOUNT_STATUSES, BROADCAST_LEVELS, ROLES, UNIT_STATUSES
from dispatch.core.notify_settings import CHANNELS
from dispatch.http.openapi_spec import (
    ANY_OBJ,
    BOOL,
    INT,
    NUM,
    STR,
    TIME,
    Schema,
    arr,
    enum,
    null,
    obj,
    ref,
)

CATEGORY = enum(CATEGORIES)
STATUS = enum(STATUSES)
LEVEL = enum(BROADCAST_LEVELS)
POINT = obj({"lat": NUM, "lon": NUM}, closed=True)
HOME = obj({"lat": NUM, "lon": NUM, "sector": STR})

_ALERT_COMMON: dict[str, Schema] = {
    "id": INT,
    "category": CATEGORY,
    "text": STR,
    "sector": STR,
    "cell": STR,
    "status": STATUS,
    "created_at": TIME,
}
_ALERT_OWN: dict[str, Schema] = {
    **_ALERT_COMMON,
    "lat": NUM,
    "lon": NUM,
    "priority": NUM,
    "updated_at": TIME,
    "author": null(INT),
    "client_id": null(STR),
    "seq": INT,
    "incident": null(INT),
    "hidden": BOOL,
    "text_hidden": BOOL,
}
_NOTE = obj({"at": TIME, "by": INT, "status": null(STATUS)}, {"note": STR})
_ALERT_STAFF = {**_ALERT_OWN, "assignee": null(STR), "notes": arr(ref("Note")), "hide_reason": null(STR)}
_ALERT_RESIDENT = {**_ALERT_COMMON, "center": POINT}
_ALERT_MODERATION = {**_ALERT_RESIDENT, "hidden": BOOL, "hide_reason": null(STR), "text_hidden": BOOL}

_UNIT_REF = obj({"id": INT, "name": null(STR)})
_INCIDENT: dict[str, Schema] = {
    "id": INT,
    "category": CATEGORY,
    "sector": STR,
    "cell": STR,
    "lat": NUM,
    "lon": NUM,
    "status": STATUS,
    "priority": NUM,
    "pinned": BOOL,
    "witnesses": INT,
    "alerts": arr(INT),
    "unit": null(_UNIT_REF),
    "vulnerable": BOOL,
    "escalation": INT,
    "created_at": TIME,
    "updated_at": TIME,
    "ack_due_at": TIME,
    "acknowledged_at": null(TIME),
    "resolved_at": null(TIME),
    "overdue": BOOL,
}
_HISTORY = obj({"at": TIME, "actor": null(INT), "actor_name": null(STR), "action": STR})

_PROOF = obj({"media_type": STR, "size": INT, "created_at": TIME})
_ACCOUNT = {
    "id": INT,
    "role": enum(ROLES),
    "name": STR,
    "email": STR,
    "address": null(STR),
    "phone": null(STR),
    "on_behalf_of": null(STR),
    "home": null(HOME),
    "status": enum(ACCOUNT_STATUSES),
    "reason": null(STR),
    "created_at": TIME,
    "proof": null(_PROOF),
}
_ME_OPTIONAL = {
    "seq": INT,
    "reason": null(STR),
    "home": HOME,
    "address": STR,
    "phone": STR,
    "on_behalf_of": STR,
    "wall": BOOL,
}
_ME = obj(
    {"user_id": INT, "role": enum(ROLES), "name": STR, "email": STR, "status": enum(ACCOUNT_STATUSES)}, _ME_OPTIONAL
)

_BROADCAST_RESIDENT = obj({"id": INT, "level": LEVEL, "text": STR, "created_at": TIME, "seq": null(INT)}, closed=True)
_BROADCAST_STAFF = obj(
    {
        "id": INT,
        "text": STR,
        "level": LEVEL,
        "recipients": INT,
        "created_at": TIME,
        "seq": null(INT),
        "author": null(INT),
        "target": enum(("sectors", "circle", "polygon")),
    },
    {"sectors": arr(STR), "circle": obj({"lat": NUM, "lon": NUM, "radius_m": NUM}), "polygon": ANY_OBJ},
)


def _counts(*names: str) -> Schema:
    return obj({n: INT for n in names}, closed=True)


COMPONENTS: dict[str, Schema] = {
    "Error": obj(
        {"error": obj({"code": STR, "message": STR}, {"field": STR}, closed=True)},
        closed=True,
    ),
    "AlertStaff": obj(_ALERT_STAFF),
    "AlertOwn": obj(_ALERT_OWN),
    # a resident's view: never the author, never the exact point
    "AlertResident": obj(_ALERT_RESIDENT, {"mine": BOOL}, closed=True),
    "AlertModeration": obj(_ALERT_MODERATION, {"author": null(INT)}, closed=True),
    "Note": _NOTE,
    "Incident": obj(_INCIDENT),
    "IncidentDetail": obj({**_INCIDENT, "history": arr(_HISTORY)}, {"alert_details": arr(ref("AlertStaff"))}),
    "Unit": obj({"id": INT, "name": STR, "status": enum(UNIT_STATUSES), "incident": null(INT), "updated_at": TIME}),
    "Account": obj(_ACCOUNT),
    "Me": _ME,
    "BroadcastResident": _BROADCAST_RESIDENT,
    "BroadcastStaff": _BROADCAST_STAFF,
    "Flag": obj({"id": INT, "alert": INT, "reason": STR, "created_at": TIME}, closed=True),
    "Receipts": obj(
        {
            "app": _counts("delivered"),
            "email": _counts("queued", "sent", "failed"),
            "sms": _counts("queued", "sent", "delivered", "failed"),
            "push": _counts("queued", "sent", "failed"),
        },
        closed=True,
    ),
    "Notifications": obj(
        {"channels": arr(enum(CHANNELS)), "levels": arr(LEVEL), "categories": arr(CATEGORY)},
        {"phone": STR},
        closed=True,
    ),
    "FeatureCollection": obj({"type": {"const": "FeatureCollection"}, "features": arr(ANY_OBJ)}),
}
