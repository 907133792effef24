"""Routes anyone may call: health, the city's sectors, the categories."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dispatch.core.categories import CATEGORIES
from dispatch.http.app_state import services
from dispatch.http.requests import JSON


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


async def sectors(request: Request) -> Response:
    return JSON(services(request).city.geojson())


async def categories(request: Request) -> Response:
    return JSON([c.as_dict() for c in CATEGORIES.values()])


routes = [
    Route("/healthz", healthz),
    Route("/api/sectors", sectors),
    Route("/api/categories", categories),
]
