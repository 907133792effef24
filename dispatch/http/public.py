"""Routes anyone may call: health, the city's sectors, the categories."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dispatch.core.categories import CATEGORIES
from dispatch.core.model import STAFF_ROLES
from dispatch.http.app_state import services
from dispatch.http.metrics import has_token
from dispatch.http.requests import JSON
from dispatch.telemetry import metrics
from dispatch.usecases.sessions import credentials


async def _may_see_details(request: Request) -> bool:
    """A staff session or the metrics token: what the server runs on and
    how many are connected is for its operators, not for anyone."""
    svc = services(request)
    if has_token(request, svc.settings):
        return True
    token, _ = credentials(request.headers, request.cookies, svc.settings.session_cookie)
    if token is None:
        return False
    try:
        session = await svc.sessions.session_for(token)
    except Exception:  # the store is down: the status alone says so
        return False
    return session is not None and session.user.validated and session.user.role in STAFF_ROLES


async def healthz(request: Request) -> Response:
    svc = services(request)
    problems = await svc.health_problems()
    for problem in problems:
        (metrics.store_error if problem == "store" else metrics.bus_error)("ping")
    status = 200 if not problems else 503
    body: dict[str, Any] = {"status": "ok" if not problems else "unavailable"}
    if not await _may_see_details(request):
        return JSON(body, status_code=status)
    body |= {
        "store": svc.store_kind,
        "bus": svc.bus_kind,
        "seq": await svc.store.head_seq() if not problems else None,
        "connections": svc.hub.connections(),
    }
    if problems:
        body["problems"] = problems
    return JSON(body, status_code=status)


async def sectors(request: Request) -> Response:
    return JSON(services(request).city.geojson())


async def categories(request: Request) -> Response:
    return JSON([c.as_dict() for c in CATEGORIES.values()])


routes = [
    Route("/healthz", healthz),
    Route("/api/sectors", sectors),
    Route("/api/categories", categories),
]
