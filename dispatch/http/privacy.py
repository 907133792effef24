"""Export and erasure routes (issue 20): a resident's own data and account
(GET /api/me/export, DELETE /api/me), and the same for an admin acting on a
request made at the town hall. Accounts of any status may use their own:
the right of access and of erasure does not wait for validation."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dispatch.core.model import RESIDENT_ROLES
from dispatch.core.validation import erasure_input
from dispatch.http.app_state import services
from dispatch.http.requests import JSON, check_query, path_id, principal, read_json

ADMIN = frozenset({"admin"})


async def export_own(request: Request) -> Response:
    user = await principal(request, RESIDENT_ROLES, allow_unvalidated=True)
    check_query(request, frozenset())
    body = await services(request).privacy.export(user, user.id)
    return JSON(body, headers={"content-disposition": 'attachment; filename="mes-donnees.json"'})


async def erase_own(request: Request) -> Response:
    user = await principal(request, RESIDENT_ROLES, write=True, allow_unvalidated=True)
    password = erasure_input(await read_json(request))
    address = request.client.host if request.client else None
    await services(request).privacy.erase_own(user, password, address)
    settings = services(request).settings
    resp = Response(status_code=204)
    resp.delete_cookie(settings.session_cookie, path="/", httponly=True, samesite="strict", secure=settings.https)
    return resp


async def export_resident(request: Request) -> Response:
    admin = await principal(request, ADMIN)
    check_query(request, frozenset())
    return JSON(await services(request).privacy.export(admin, path_id(request, "account_id")))


async def erase_resident(request: Request) -> Response:
    admin = await principal(request, ADMIN, write=True)
    await services(request).privacy.erase(admin, path_id(request, "account_id"))
    return Response(status_code=204)


routes = [
    Route("/api/me/export", export_own),
    Route("/api/me", erase_own, methods=["DELETE"]),
    Route("/api/admin/residents/{account_id}/export", export_resident),
    Route("/api/admin/residents/{account_id}", erase_resident, methods=["DELETE"]),
]
