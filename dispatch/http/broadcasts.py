"""Police messages to residents: send one, or preview who it would reach."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dispatch.core.model import OPERATOR_ROLES, OPS_VIEW_ROLES, RESIDENT_ROLES
from dispatch.core.validation import broadcast_input, parse_time
from dispatch.http.app_state import services
from dispatch.http.requests import JSON, check_query, principal, read_json


async def create_broadcast(request: Request) -> Response:
    svc = services(request)
    user = await principal(request, OPERATOR_ROLES, write=True)
    body = broadcast_input(await read_json(request), svc.city.sector_ids, svc.settings.privacy_min_circle_m)
    b = await svc.broadcasts.send(user, body)
    return JSON({"id": b.id, "recipients": b.recipients, "seq": b.seq}, status_code=201)


async def preview_broadcast(request: Request) -> Response:
    svc = services(request)
    await principal(request, OPERATOR_ROLES)
    data = await read_json(request)
    data.setdefault("text", "preview")
    data.setdefault("level", "info")
    body = broadcast_input(data, svc.city.sector_ids, svc.settings.privacy_min_circle_m)
    return JSON(await svc.broadcasts.preview(body))


async def list_broadcasts(request: Request) -> Response:
    svc = services(request)
    user = await principal(request, OPS_VIEW_ROLES | RESIDENT_ROLES)  # 403 not_validated unless validated
    q = check_query(request, frozenset({"since"}))
    since = parse_time(q["since"], "since") if "since" in q else None
    return JSON(await svc.broadcasts.history(user, since, svc.settings.broadcasts_history_days))


routes = [
    Route("/api/broadcasts", list_broadcasts, methods=["GET"]),
    Route("/api/broadcasts", create_broadcast, methods=["POST"]),
    Route("/api/broadcasts/preview", preview_broadcast, methods=["POST"]),
]
