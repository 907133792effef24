"""The audit, for the town's administrator and its DPO: GET /api/audit
(JSON, or CSV with ?format=csv: a plain link downloads it, which an Accept
header could not) and the page that lists and filters it, /ops/audit."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dispatch.core.audit import ACTIONS, AUDIT_ROLES, AuditQuery, audit_view, to_csv
from dispatch.core.validation import InputError
from dispatch.http.app_state import services
from dispatch.http.pages import render
from dispatch.http.requests import JSON, MAX_ID, check_query, is_number, parse_time, principal

DEFAULT_LIMIT = 200
MAX_LIMIT = 5000
_FILTERS = frozenset({"since", "actor", "action", "limit", "format"})


def audit_query(q: dict[str, str]) -> AuditQuery:
    """The filters, strictly: a bad one is a 422 that names it."""
    actor = q.get("actor")
    if actor is not None and (not is_number(actor) or int(actor) > MAX_ID):
        raise InputError(422, "invalid_type", "actor must be an account id", "actor")
    action = q.get("action")
    if action is not None and action not in ACTIONS:
        raise InputError(422, "unknown_action", f"unknown action {action!r}", "action")
    raw = q.get("limit", str(DEFAULT_LIMIT))
    if not is_number(raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise InputError(422, "out_of_range", f"limit must be between 1 and {MAX_LIMIT}", "limit")
    since = parse_time(q["since"], "since") if "since" in q else None
    return AuditQuery(since=since, actor=int(actor) if actor else None, action=action, limit=int(raw))


async def list_audit(request: Request) -> Response:
    await principal(request, AUDIT_ROLES)
    q = check_query(request, _FILTERS)
    fmt = q.get("format", "json")
    if fmt not in ("json", "csv"):
        raise InputError(422, "invalid_value", "format must be json or csv", "format")
    entries = await services(request).store.audit(audit_query(q))
    if fmt == "csv":
        headers = {"content-disposition": 'attachment; filename="dispatch-audit.csv"', "cache-control": "no-store"}
        return Response(to_csv(entries), media_type="text/csv; charset=utf-8", headers=headers)
    return JSON([audit_view(e) for e in entries], headers={"cache-control": "no-store"})


async def page(request: Request) -> Response:
    """Without a session: the page (its login form; it holds no entry, those
    come from the API). With one, only an admin's gets it."""
    try:
        await principal(request, AUDIT_ROLES)
    except InputError as err:
        if err.status != 401:
            raise
    return render(request, "audit.html", actions=sorted(ACTIONS), max_limit=MAX_LIMIT)


routes = [
    Route("/api/audit", list_audit, methods=["GET"]),
    Route("/ops/audit", page, methods=["GET"]),
]
