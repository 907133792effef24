"""Triage routes: incidents, units, statistics, shift hand-over."""

from __future__ import annotations

from datetime import datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dispatch.core.lifecycle import STATUSES
from dispatch.core.model import OPERATOR_ROLES, OPS_VIEW_ROLES, UNIT_ADMIN_ROLES, IncidentQuery, utcnow
from dispatch.core.validation import InputError, id_list, incident_patch, unit_input, unit_status_input
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

# Units: the operators use them, admins administer them (create, and set
# off duty). Statistics are counts: no one's identity or point.
UNIT_ROLES = OPERATOR_ROLES | {"admin"}
REPORT_ROLES = OPERATOR_ROLES | {"admin"}


_INCIDENT_FILTERS = frozenset({"status", "sector", "category", "since", "limit"})


async def list_incidents(request: Request) -> Response:
    svc = services(request)
    await principal(request, OPS_VIEW_ROLES)
    q = check_query(request, _INCIDENT_FILTERS)
    status = q.get("status", "open")
    if status not in (*STATUSES, "open", "all"):
        raise InputError(422, "unknown_status", f"unknown status {status!r}", "status")
    known_filters(q, svc.city.sector_ids)
    limit = int(q["limit"]) if is_number(q.get("limit", "")) else 500
    query = IncidentQuery(
        status=None if status == "all" else status,
        sector=q.get("sector"),
        category=q.get("category"),
        since=parse_time(q["since"], "since") if "since" in q else None,
        limit=max(1, min(limit, 5000)),
    )
    return JSON(await svc.incidents.listing(query))


async def get_incident(request: Request) -> Response:
    svc = services(request)
    user = await principal(request, OPS_VIEW_ROLES)
    return JSON(await svc.incidents.detail(user, path_id(request, "incident_id")))


async def patch_incident(request: Request) -> Response:
    svc = services(request)
    user = await principal(request, OPERATOR_ROLES, write=True)
    patch = incident_patch(await read_json(request))
    return JSON(await svc.incidents.patch(user, path_id(request, "incident_id"), patch))


async def merge_incidents(request: Request) -> Response:
    svc = services(request)
    user = await principal(request, OPERATOR_ROLES, write=True)
    others = id_list(await read_json(request), "incidents")
    return JSON(await svc.incidents.merge(user, path_id(request, "incident_id"), others))


async def split_incident(request: Request) -> Response:
    svc = services(request)
    user = await principal(request, OPERATOR_ROLES, write=True)
    alerts = id_list(await read_json(request), "alerts")
    return JSON(await svc.incidents.split(user, path_id(request, "incident_id"), alerts), status_code=201)


async def list_units(request: Request) -> Response:
    await principal(request, UNIT_ROLES)
    return JSON(await services(request).units.listing())


async def add_unit(request: Request) -> Response:
    await principal(request, UNIT_ADMIN_ROLES, write=True)
    name = unit_input(await read_json(request))
    return JSON(await services(request).units.add(name), status_code=201)


async def patch_unit(request: Request) -> Response:
    user = await principal(request, UNIT_ROLES, write=True)
    status = unit_status_input(await read_json(request))
    return JSON(await services(request).units.set_status(user, path_id(request, "unit_id"), status))


def _window(request: Request) -> tuple[datetime, datetime]:
    q = check_query(request, frozenset({"since", "until"}))
    until = parse_time(q["until"], "until") if "until" in q else utcnow() + timedelta(seconds=1)
    since = parse_time(q["since"], "since") if "since" in q else until - timedelta(days=30)
    if since >= until:
        raise InputError(422, "out_of_range", "since must be before until", "since")
    return since, until


async def statistics(request: Request) -> Response:
    await principal(request, REPORT_ROLES)
    since, until = _window(request)
    return JSON(await services(request).reports.statistics(since, until))


async def statistics_csv(request: Request) -> Response:
    from dispatch.core.stats import to_csv

    await principal(request, REPORT_ROLES)
    since, until = _window(request)
    body = to_csv(await services(request).reports.statistics(since, until))
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="dispatch-stats.csv"'},
    )


async def handover(request: Request) -> Response:
    svc = services(request)
    await principal(request, OPS_VIEW_ROLES)
    q = check_query(request, frozenset({"sector"}))
    sector = q.get("sector")
    if sector is not None and sector not in svc.city.sector_ids:
        raise InputError(422, "unknown_sector", f"unknown sector {sector!r}", "sector")
    return JSON(await svc.reports.handover(sector))


routes = [
    Route("/api/incidents", list_incidents),
    Route("/api/incidents/{incident_id}", get_incident, methods=["GET"]),
    Route("/api/incidents/{incident_id}", patch_incident, methods=["PATCH"]),
    Route("/api/incidents/{incident_id}/merge", merge_incidents, methods=["POST"]),
    Route("/api/incidents/{incident_id}/split", split_incident, methods=["POST"]),
    Route("/api/units", list_units, methods=["GET"]),
    Route("/api/units", add_unit, methods=["POST"]),
    Route("/api/units/{unit_id}", patch_unit, methods=["PATCH"]),
    Route("/api/stats", statistics),
    Route("/api/stats.csv", statistics_csv),
    Route("/api/handover", handover),
]
