"""Residents' alerts: post one, list and read what the caller may see, and
the operators' patch of one alert."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dispatch.core.lifecycle import STATUSES
from dispatch.core.model import OPERATOR_ROLES, RESIDENT_ROLES, ROLES, AlertQuery
from dispatch.core.validation import InputError, alert_input, alert_patch
from dispatch.core.views import alert_own, alert_staff
from dispatch.http.app_state import services
from dispatch.http.requests import (
    JSON,
    check_query,
    is_number,
    known_filters,
    parse_time,
    path_id,
    principal,
    read_json,
)


async def create_alert(request: Request) -> Response:
    svc = services(request)
    user = await principal(request, RESIDENT_ROLES, write=True)  # 403 not_validated unless validated
    body = alert_input(await read_json(request))
    await svc.quotas.alert(user.id, body.client_id)  # 429 past limits.alerts_per_window
    alert, created = await svc.alerts.submit(user, body)
    return JSON(alert_own(alert_staff(alert)), status_code=201 if created else 200)


_ALERT_FILTERS = frozenset({"status", "sector", "category", "since", "limit"})


async def list_alerts(request: Request) -> Response:
    svc = services(request)
    user = await principal(request, ROLES)
    q = check_query(request, _ALERT_FILTERS)
    if "status" in q and q["status"] not in STATUSES:
        raise InputError(422, "unknown_status", f"unknown status {q['status']!r}", "status")
    known_filters(q, svc.city.sector_ids)
    limit = 500
    if "limit" in q:
        if not is_number(q["limit"]) or not 1 <= int(q["limit"]) <= 5000:
            raise InputError(422, "out_of_range", "limit must be between 1 and 5000", "limit")
        limit = int(q["limit"])
    query = AlertQuery(
        status=q.get("status"),
        sector=q.get("sector"),
        category=q.get("category"),
        since=parse_time(q["since"], "since") if "since" in q else None,
        limit=limit,
    )
    return JSON(await svc.alerts.visible_to(user, query))


async def get_alert(request: Request) -> Response:
    user = await principal(request, ROLES)
    return JSON(await services(request).alerts.one(user, path_id(request, "alert_id")))


async def patch_alert(request: Request) -> Response:
    svc = services(request)
    user = await principal(request, OPERATOR_ROLES, write=True)
    patch = alert_patch(await read_json(request))
    return JSON(await svc.incidents.patch_alert(user, path_id(request, "alert_id"), patch))


routes = [
    Route("/api/alerts", create_alert, methods=["POST"]),
    Route("/api/alerts", list_alerts, methods=["GET"]),
    Route("/api/alerts/{alert_id}", get_alert, methods=["GET"]),
    Route("/api/alerts/{alert_id}", patch_alert, methods=["PATCH"]),
]
