"""Logging in, and who the caller is."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dispatch.core.model import ROLES
from dispatch.core.validation import login_input
from dispatch.http.app_state import services
from dispatch.http.requests import JSON, principal, read_json
from dispatch.usecases.sessions import COOKIE


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
    user = await principal(request, ROLES)
    home = user.home
    body = {"user_id": user.id, "role": user.role, "name": user.name, "email": user.email}
    if home is not None:
        body["home"] = {"lat": home.lat, "lon": home.lon, "sector": home.sector}
    return JSON(body)


routes = [
    Route("/api/auth/login", login, methods=["POST"]),
    Route("/api/me", me),
]
