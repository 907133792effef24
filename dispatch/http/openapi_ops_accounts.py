"""OpenAPI declarations of the public, session, joining, moderation, privacy
and audit routes, and of the pages (dispatch/http/public.py, sessions.py,
residents.py, moderation.py, privacy.py, audit.py, pages.py): who may call
each, what it takes and what it answers (docs/reference.md says why)."""

from __future__ import annotations

from dispatch.core.audit import ACTIONS, AUDIT_ROLES
from dispatch.core.model import ACCOUNT_ADMIN_ROLES, ACCOUNT_STATUSES, MODERATOR_ROLES, RESIDENT_ROLES, ROLES
from dispatch.http.openapi_schemas import CATEGORY
from dispatch.http.openapi_spec import (
    ANY_OBJ,
    BOOL,
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
ADMIN = frozenset({"admin"})
HTML = "text/html"
LIMIT = {"type": "string", "pattern": "^[0-9]{1,6}$"}  # a query's limit: digits, bounds checked by the route

# anonymous callers get the status alone; staff and the metrics token the rest
_HEALTH = obj(
    {"status": enum(("ok", "unavailable"))},
    {"store": STR, "bus": STR, "seq": null(INT), "connections": INT, "problems": arr(STR)},
)
_CATEGORY = obj(
    {"id": CATEGORY, "label": STR, "pictogram": STR, "severity": INT, "ack_target_min": NUM}, {"solidarity": BOOL}
)
_LOGIN = obj({"email": text(254, 1), "password": text(1024, 1)}, {"wall": BOOL}, closed=True)
_JOIN = obj(
    {
        "name": STR,
        "email": STR,
        "password": STR,
        "address": STR,
        "lat": STR,
        "lon": STR,
        "proof": {"type": "string", "contentMediaType": "application/octet-stream"},
    },
    {"phone": STR, "on_behalf_of": STR},
    closed=True,
)
_REASON = text(500, 1)
_AUDIT_ENTRY = obj(
    {"id": INT, "at": TIME, "actor": null(INT), "action": STR, "record_type": STR, "record_id": null(INT)}
)
_RESIDENTS_FILTER = {"status": enum(ACCOUNT_STATUSES), "limit": LIMIT}
_FLAGS = arr(obj({"alert": ref("AlertModeration"), "flags": arr(ref("Flag"))}))
_EXPORT = obj(
    {
        "exported_at": TIME,
        "account": ANY_OBJ,
        "proofs": arr(ANY_OBJ),
        "proof_views": arr(ANY_OBJ),
        "sessions": arr(ANY_OBJ),
        "alerts": arr(ref("AlertStaff")),
        "flags": arr(ANY_OBJ),
        "audit": arr(ANY_OBJ),
    }
)
_PAGE = {"type": "string"}


def _page(summary: str) -> Op:
    return Op(summary, None, _PAGE, media=HTML)


OPERATIONS: dict[str, Op] = {
    "GET /healthz": Op(
        "health of the store and the bus", None, _HEALTH, more={503: ("the store or the bus does not answer", _HEALTH)}
    ),
    "GET /metrics": Op(
        "Prometheus text format, every worker summed: loopback (not proxied) or Bearer <metrics.token>",
        None,
        STR,
        media="text/plain",
        more={403: ("neither this machine nor the metrics token (forbidden)", None)},
    ),
    "GET /api/sectors": Op("the city's sectors", None, ref("FeatureCollection")),
    "GET /api/categories": Op("the alert categories", None, arr(_CATEGORY)),
    "POST /api/auth/login": Op(
        "log in: a token and the session cookie",
        None,
        obj({"token": STR, "role": enum(ROLES), "user_id": INT}),
        body=_LOGIN,
        more={
            401: ("unknown e-mail or wrong password (bad_credentials)", None),
            403: ("a wall session for an account that is not staff (forbidden)", None),
            429: ("a locked account or a throttled address (rate_limited)", None),
        },
    ),
    "POST /api/auth/logout": Op("end this session on every worker", ALL, status=204, any_status=True),
    "GET /api/me": Op("the caller's own account", ALL, ref("Me"), any_status=True),
    "GET /session": Op("the caller's account, or null without a session", None, null(ref("Me"))),
    "POST /api/residents": Op(
        "join: a pending account, with a proof of address",
        None,
        obj({"id": INT, "status": {"const": "pending"}}, closed=True),
        status=201,
        body=_JOIN,
        body_media="multipart/form-data",
        more={
            400: ("a malformed form (malformed_form)", None),
            413: ("a body or proof over its limit (body_too_large, proof_too_large)", None),
            415: ("not multipart/form-data (unsupported_media_type)", None),
            422: ("a field is wrong: the error names it", None),
        },
    ),
    "GET /api/moderation/residents": Op(
        "residents' accounts with a status, oldest first",
        ACCOUNT_ADMIN_ROLES,
        arr(ref("Account")),
        query=_RESIDENTS_FILTER,
    ),
    "GET /api/moderation/residents/{account_id}/proof": Op(
        "the account's latest proof of address (audited)",
        MODERATOR_ROLES,
        {"type": "string"},
        media="application/octet-stream",
    ),
    "POST /api/moderation/residents/{account_id}": Op(
        "validate or reject a pending account",
        MODERATOR_ROLES,
        ref("Account"),
        body=obj({"decision": enum(("validate", "reject"))}, {"reason": _REASON}, closed=True),
        more={409: ("the account is not pending (forbidden_transition)", None)},
    ),
    "GET /api/moderation/flags": Op("open flags, by alert", MODERATOR_ROLES, _FLAGS),
    "POST /api/moderation/alerts/{alert_id}": Op(
        "hide an alert, or its text, or restore it",
        MODERATOR_ROLES,
        ref("AlertModeration"),
        body=obj({"action": enum(("hide", "hide_text", "restore")), "reason": _REASON}, closed=True),
    ),
    "POST /api/moderation/accounts/{account_id}": Op(
        "suspend or reinstate an account",
        ACCOUNT_ADMIN_ROLES,
        ref("Account"),
        body=obj({"action": enum(("suspend", "reinstate")), "reason": _REASON}, closed=True),
        more={409: ("a status this action may not follow (forbidden_transition)", None)},
    ),
    "GET /api/me/export": Op("everything held about the caller", RESIDENT_ROLES, _EXPORT, any_status=True),
    "DELETE /api/me": Op(
        "erase the caller's account",
        RESIDENT_ROLES,
        status=204,
        body=obj({"password": text(1024, 1)}, closed=True),
        any_status=True,
        more={429: ("too many wrong passwords (rate_limited)", None)},
    ),
    "GET /api/admin/residents/{account_id}/export": Op("a resident's export", ADMIN, _EXPORT),
    "DELETE /api/admin/residents/{account_id}": Op("erase a resident's account", ADMIN, status=204),
    "GET /api/audit": Op(
        "the audit, newest first (JSON, or CSV with format=csv)",
        AUDIT_ROLES,
        arr(_AUDIT_ENTRY),
        alt_media={"text/csv": STR},
        query={"since": TIME, "actor": LIMIT, "action": enum(ACTIONS), "limit": LIMIT, "format": enum(("json", "csv"))},
    ),
    "GET /ops/audit": Op(
        "the audit page (an admin's; its login form without a session)",
        None,
        _PAGE,
        media=HTML,
        more={403: ("a session that is not an admin's (forbidden, not_validated)", None)},
    ),
    "GET /": _page("the residents' page"),
    "GET /ops": _page("the supervisor's desk"),
    "GET /ops/wall": _page("the wall screen"),
    "GET /ops/moderation": _page("the moderators' page"),
    "GET /sw.js": Op("the residents' service worker", None, _PAGE, media="text/javascript"),
    "GET /openapi.json": Op("this document: every HTTP route, OpenAPI 3.1", None, ANY_OBJ),
    "GET /config": Op("what the pages need from the server", None, ANY_OBJ),
}
