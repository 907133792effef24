"""OpenAPI declarations of the alert, flag, broadcast and out-of-band
delivery routes (dispatch/http/alerts.py, moderation.py's flags,
broadcasts.py, notify.py, sms_inbound.py)."""

from __future__ import annotations

from dispatch.core.model import OPERATOR_ROLES, OPS_VIEW_ROLES, RESIDENT_ROLES, ROLES
from dispatch.core.notify_settings import CHANNELS
from dispatch.http.openapi_schemas import CATEGORY, LEVEL, STATUS
from dispatch.http.openapi_spec import (
    INT,
    NUM,
    STR,
    TIME,
    Op,
    arr,
    enum,
    null,
    obj,
    ref,
    text,
)

ALL = frozenset(ROLES)
LAT = {"type": "number", "minimum": -90, "maximum": 90}
LON = {"type": "number", "minimum": -180, "maximum": 180}
_RATE = {429: ("past the resident's limit (rate_limited)", None)}

_ALERT_IN = obj(
    {"category": CATEGORY, "lat": LAT, "lon": LON},
    {"text": null(text(1000)), "client_id": null(text(128, 1))},
    closed=True,
)
_ALERT_PATCH = obj(
    {},
    {
        "status": STATUS,
        "priority": {"type": "number", "minimum": 0, "maximum": 1000},
        "assignee": null(text(100, 1)),
        "note": text(1000, 1),
    },
    closed=True,
)
_ANY_ALERT = {"anyOf": [ref("AlertStaff"), ref("AlertModeration"), ref("AlertResident")]}
_ALERT_FILTERS = {
    "status": STATUS,
    "sector": STR,
    "category": CATEGORY,
    "since": TIME,
    "limit": {"type": "string", "pattern": "^[0-9]{1,6}$"},
}
_CIRCLE = obj({"lat": LAT, "lon": LON, "radius_m": {"type": "number", "minimum": 1, "maximum": 50000}}, closed=True)
_POLYGON = obj({"type": {"const": "Polygon"}, "coordinates": arr(arr(arr(NUM)))})
_TARGETS = {"sectors": {"anyOf": [{"const": "all"}, arr(STR, minItems=1)]}, "circle": _CIRCLE, "polygon": _POLYGON}
_BROADCAST_IN = obj({"text": text(1000, 1), "level": LEVEL}, _TARGETS, closed=True)
_PREVIEW_IN = obj({}, {"text": text(1000, 1), "level": LEVEL, **_TARGETS}, closed=True)
_PREVIEW = obj({"recipients": INT, "sms": obj({"recipients": INT, "segments": INT}, closed=True)}, closed=True)
_NOTIFY_IN = obj(
    {"channels": arr(enum(CHANNELS))},
    {"levels": arr(LEVEL), "categories": arr(CATEGORY), "phone": null(text(32))},
    closed=True,
)
_SUBSCRIPTION = obj(
    {"endpoint": STR, "keys": obj({"p256dh": STR, "auth": STR}, closed=True)},
    {"expirationTime": null(NUM)},
    closed=True,
)
_SMS_STATUS = obj({"id": text(200, 1), "status": enum(("delivered", "failed"))}, closed=True)
_SMS_IN = obj({"from": text(32, 1), "text": text(1600)}, closed=True)
_SMS_OUT = obj({"result": enum(("alert", "stopped", "help"))}, {"alert": INT}, closed=True)

OPERATIONS: dict[str, Op] = {
    "POST /api/alerts": Op(
        "report an alert",
        RESIDENT_ROLES,
        ref("AlertOwn"),
        status=201,
        body=_ALERT_IN,
        more={200: ("a client_id this author sent before: the first alert", ref("AlertOwn")), **_RATE},
    ),
    "GET /api/alerts": Op("the alerts the caller may see, newest first", ALL, arr(_ANY_ALERT), query=_ALERT_FILTERS),
    "GET /api/alerts/{alert_id}": Op("one alert, in the caller's view", ALL, _ANY_ALERT),
    "PATCH /api/alerts/{alert_id}": Op(
        "an operator changes an alert",
        OPERATOR_ROLES,
        ref("AlertStaff"),
        body=_ALERT_PATCH,
        more={409: ("a transition the lifecycle forbids (forbidden_transition)", None)},
    ),
    "POST /api/alerts/{alert_id}/flags": Op(
        "a resident flags an alert they can see",
        RESIDENT_ROLES,
        ref("Flag"),
        status=201,
        body=obj({"reason": text(500, 1)}, closed=True),
        more={409: ("flagged already by this resident (duplicate_flag)", None), **_RATE},
    ),
    "POST /api/broadcasts": Op(
        "send a police message",
        OPERATOR_ROLES,
        obj({"id": INT, "recipients": INT, "seq": INT}, closed=True),
        status=201,
        body=_BROADCAST_IN,
    ),
    "POST /api/broadcasts/preview": Op(
        "how many residents a message would reach", OPERATOR_ROLES, _PREVIEW, body=_PREVIEW_IN
    ),
    "GET /api/broadcasts": Op(
        "past broadcasts, newest first",
        OPS_VIEW_ROLES | RESIDENT_ROLES,
        arr({"anyOf": [ref("BroadcastStaff"), ref("BroadcastResident")]}),
        query={"since": TIME},
    ),
    "GET /api/broadcasts/{broadcast_id}/receipts": Op(
        "a broadcast's delivery, per channel", OPERATOR_ROLES, ref("Receipts")
    ),
    "GET /api/me/notifications": Op("the resident's notification settings", RESIDENT_ROLES, ref("Notifications")),
    "PUT /api/me/notifications": Op(
        "change the notification settings", RESIDENT_ROLES, ref("Notifications"), body=_NOTIFY_IN
    ),
    "GET /api/push/key": Op("the VAPID application server key", None, obj({"public_key": STR}, closed=True)),
    "POST /api/me/push-subscriptions": Op(
        "register a browser's push subscription",
        RESIDENT_ROLES,
        obj({"id": INT}, closed=True),
        status=201,
        body=_SUBSCRIPTION,
    ),
    "POST /api/sms/status": Op("the SMS gateway's delivery report", None, status=204, body=_SMS_STATUS, signed=True),
    "POST /api/sms/inbound": Op(
        "a resident's text message, forwarded by the SMS gateway",
        None,
        _SMS_OUT,
        body=_SMS_IN,
        signed=True,
        more={201: ("an alert was made", _SMS_OUT), **_RATE},
    ),
    "GET /map/cells": Op(
        "outlines of H3 cells",
        ALL,
        obj({"cells": {"type": "object", "additionalProperties": arr(arr(NUM))}}, closed=True),
        query={"ids": STR},
        required_query=frozenset({"ids"}),
    ),
}
