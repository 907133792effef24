"""Logging in, and who the caller is."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dispatch.core.codec import CLOSE_SESSION_ENDED
from dispatch.core.model import ROLES
from dispatch.core.validation import login_input
from dispatch.core.views import me_view
from dispatch.http.app_state import services
from dispatch.http.requests import JSON, principal_session, read_json
from dispatch.usecases.sessions import credentials


async def login(request: Request) -> Response:
    svc = services(request)
    email, password, wall = login_input(await read_json(request))
    address = request.client.host if request.client else None
    token, user = await svc.sessions.login(email, password, address, wall)
    resp = JSON({"token": token, "role": user.role, "user_id": user.id})
    # HttpOnly: no script reads it; SameSite=Strict: no other site's page
    # sends it; over https, Secure and the __Host- name (Settings.session_cookie)
    resp.set_cookie(
        svc.settings.session_cookie,
        token,
        max_age=int(svc.settings.server_session_ttl_hours * 3600),
        httponly=True,
        samesite="strict",
        secure=svc.settings.https or request.url.scheme == "https",
        path="/",
    )
    return resp


async def logout(request: Request) -> Response:
    """Ends this session at once on every worker (Sessions.end_token); the
    sockets opened with it close with CLOSE_SESSION_ENDED."""
    await principal_session(request, ROLES, write=True, allow_unvalidated=True)  # a wall screen may log out too
    settings = services(request).settings
    token, _ = credentials(request.headers, request.cookies, settings.session_cookie)
    if token:
        await services(request).sessions.end_token(token, CLOSE_SESSION_ENDED)
    resp = Response(status_code=204)
    resp.delete_cookie(settings.session_cookie, path="/", httponly=True, samesite="strict", secure=settings.https)
    return resp


async def me(request: Request) -> Response:
    """Any account, whatever its status: a pending, rejected or suspended
    one reads here where it stands (and nothing else)."""
    svc = services(request)
    session = await principal_session(request, ROLES, allow_unvalidated=True)
    # the account as stored now, not as the session cache holds it: a phone
    # just saved (PUT /api/me/notifications) shows here at once, whichever
    # worker answers
    body = me_view(await svc.store.user_by_id(session.user.id) or session.user)
    if session.wall:
        body["wall"] = True  # read-only: the desk asks for a login of its own
    if session.user.validated:  # where a page opens its stream from (?since=); /healthz no longer says
        body["seq"] = await svc.store.head_seq()
    return JSON(body)


routes = [
    Route("/api/auth/login", login, methods=["POST"]),
    Route("/api/auth/logout", logout, methods=["POST"]),
    Route("/api/me", me),
]
