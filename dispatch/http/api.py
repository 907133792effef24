"""HTTP routes of CONTRACT.md. Thin: parse, authorise, call the service."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dispatch.core.categories import CATEGORIES
from dispatch.core.lifecycle import STATUSES
from dispatch.core.model import (
    OPERATOR_ROLES,
    RESIDENT_ROLES,
    ROLES,
    AlertQuery,
)
from dispatch.core.validation import (
    InputError,
    alert_input,
    alert_patch,
    broadcast_input,
    login_input,
)
from dispatch.core.views import alert_staff
from dispatch.http.requests import JSON, check_query, principal, read_json
from dispatch.http.state import services
from dispatch.usecases.sessions import COOKIE

ANYONE = ROLES


async def healthz(request: Request) -> Response:
    svc = services(request)
    problems = await svc.health_problems()
    body: dict[str, Any] = {
        "status": "ok" if not problems else "unavailable",
        "store": svc.store_kind,
        "bus": svc.bus_kind,
        "seq": await svc.store.head_seq() if not problems else None,
        "connections": svc.hub.connections(),
    }
    if problems:
        body["problems"] = problems
    return JSON(body, status_code=200 if not problems else 503)


async def login(request: Request) -> Response:
    svc = services(request)
    email, password = login_input(await read_json(request))
    token, user = await svc.sessions.login(email, password)
    resp = JSON({"token": token, "role": user.role, "user_id": user.id})
    resp.set_cookie(
        COOKIE,
        token,
        max_age=int(svc.settings.server_session_ttl_hours * 3600),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return resp


async def me(request: Request) -> Response:
    user = await principal(request, ANYONE)
    home = user.home
    body = {"user_id": user.id, "role": user.role, "name": user.name, "email": user.email}
    if home is not None:
        body["home"] = {"lat": home.lat, "lon": home.lon, "sector": home.sector}
    return JSON(body)


async def sectors(request: Request) -> Response:
    return JSON(services(request).city.geojson())


async def categories(request: Request) -> Response:
    return JSON([c.as_dict() for c in CATEGORIES.values()])


async def create_alert(request: Request) -> Response:
    svc = services(request)
    user = await principal(request, RESIDENT_ROLES, write=True)
    if not user.validated:
        raise InputError(403, "not_validated", "your account is waiting for validation")
    body = alert_input(await read_json(request))
    alert, created = await svc.alerts.submit(user, body)
    return JSON(alert_staff(alert), status_code=201 if created else 200)


def _parse_since(raw: str) -> datetime:
    try:
        ts = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(422, "invalid_type", "since must be an ISO 8601 date-time", "since") from None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


_ALERT_FILTERS = frozenset({"status", "sector", "category", "since", "limit"})


async def list_alerts(request: Request) -> Response:
    svc = services(request)
    user = await principal(request, ANYONE)
    q = check_query(request, _ALERT_FILTERS)
    if "status" in q and q["status"] not in STATUSES:
        raise InputError(422, "unknown_status", f"unknown status {q['status']!r}", "status")
    if "category" in q and q["category"] not in CATEGORIES:
        raise InputError(422, "unknown_category", f"unknown category {q['category']!r}", "category")
    if "sector" in q and q["sector"] not in svc.city.sector_ids:
        raise InputError(422, "unknown_sector", f"unknown sector {q['sector']!r}", "sector")
    limit = 500
    if "limit" in q:
        if not q["limit"].isdigit() or not 1 <= int(q["limit"]) <= 5000:
            raise InputError(422, "out_of_range", "limit must be between 1 and 5000", "limit")
        limit = int(q["limit"])
    query = AlertQuery(
        status=q.get("status"),
        sector=q.get("sector"),
        category=q.get("category"),
        since=_parse_since(q["since"]) if "since" in q else None,
        limit=limit,
    )
    return JSON(await svc.alerts.visible_to(user, query))


def _alert_id(request: Request) -> int:
    raw = request.path_params["alert_id"]
    if not raw.isdigit():
        raise InputError(404, "not_found", f"no alert {raw!r}")
    return int(raw)


async def get_alert(request: Request) -> Response:
    user = await principal(request, ANYONE)
    return JSON(await services(request).alerts.one(user, _alert_id(request)))


async def patch_alert(request: Request) -> Response:
    svc = services(request)
    user = await principal(request, OPERATOR_ROLES, write=True)
    patch = alert_patch(await read_json(request))
    return JSON(await svc.incidents.patch_alert(user, _alert_id(request), patch))


async def create_broadcast(request: Request) -> Response:
    svc = services(request)
    user = await principal(request, OPERATOR_ROLES, write=True)
    body = broadcast_input(await read_json(request), svc.city.sector_ids)
    b = await svc.broadcasts.send(user, body)
    return JSON({"id": b.id, "recipients": b.recipients, "seq": b.seq}, status_code=201)


async def preview_broadcast(request: Request) -> Response:
    svc = services(request)
    await principal(request, OPERATOR_ROLES)
    data = await read_json(request)
    data.setdefault("text", "preview")
    data.setdefault("level", "info")
    body = broadcast_input(data, svc.city.sector_ids)
    return JSON({"recipients": await svc.broadcasts.recipients(body)})


routes = [
    Route("/healthz", healthz),
    Route("/api/auth/login", login, methods=["POST"]),
    Route("/api/me", me),
    Route("/api/sectors", sectors),
    Route("/api/categories", categories),
    Route("/api/alerts", create_alert, methods=["POST"]),
    Route("/api/alerts", list_alerts, methods=["GET"]),
    Route("/api/alerts/{alert_id}", get_alert, methods=["GET"]),
    Route("/api/alerts/{alert_id}", patch_alert, methods=["PATCH"]),
    Route("/api/broadcasts", create_broadcast, methods=["POST"]),
    Route("/api/broadcasts/preview", preview_broadcast, methods=["POST"]),
]
