"""Request plumbing shared by the HTTP routes: bodies, errors, principals."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from dispatch.core.categories import CATEGORIES
from dispatch.core.model import Session, User
from dispatch.core.validation import (
    MAX_BODY,
    MAX_ID,
    InputError,
    RateLimited,
    parse_json_object,
    query_choice,
    whole_number,
)
from dispatch.http.app_state import services
from dispatch.usecases.sessions import credentials, origin_allowed, require_role

# why an account that is not validated may do no more than read GET /api/me
NOT_VALIDATED = {
    "pending": "your account is waiting for validation",
    "rejected": "your application was rejected",
    "suspended": "your account is suspended",
}


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def error_response(err: InputError) -> JSON:
    headers = {"Retry-After": str(err.retry_after)} if isinstance(err, RateLimited) else None
    return JSON(err.body(), status_code=err.status, headers=headers)


async def read_json(request: Request) -> dict[str, Any]:
    declared = whole_number(request.headers.get("content-length", ""))
    if declared is not None and declared > MAX_BODY:
        raise InputError(413, "body_too_large", f"the body is over {MAX_BODY // 1024} KiB")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise InputError(413, "body_too_large", f"the body is over {MAX_BODY // 1024} KiB")
        chunks.append(chunk)
    return parse_json_object(b"".join(chunks))


async def principal(
    request: Request, roles: Iterable[str], write: bool = False, allow_unvalidated: bool = False
) -> User:
    """The authenticated user, if their account is validated (or the route
    allows any status: GET /api/me, logout) and their role is in `roles`.
    Cookie-authenticated writes must also come from an allowed Origin (CSRF),
    and a wall session reads only."""
    session = await principal_session(request, roles, write, allow_unvalidated)
    if write and session.wall:
        raise InputError(403, "forbidden", "a wall session is read-only: log in on the desk to act")
    return session.user


async def principal_session(
    request: Request, roles: Iterable[str], write: bool = False, allow_unvalidated: bool = False
) -> Session:
    """principal() without the wall check, for what a wall screen may do
    too (log out)."""
    svc = services(request)
    token, from_cookie = credentials(request.headers, request.cookies, svc.settings.session_cookie)
    session = await svc.sessions.session_for(token)
    user = session.user if session else None
    if user is not None and not user.validated and not allow_unvalidated:
        # before refusing, read the account again: a validation or a
        # reinstatement made through another worker reaches this worker's
        # cache a few milliseconds later (account.changed over the bus)
        session = await svc.sessions.session_for(token, fresh=True)
        user = session.user if session else None
        if user is not None and not user.validated:
            raise InputError(403, "not_validated", NOT_VALIDATED[user.status])
    require_role(user, roles)
    assert session is not None
    if write and from_cookie and not origin_allowed(request.headers.get("origin"), svc.settings.browser_origins()):
        raise InputError(403, "forbidden_origin", "this origin may not write with a session cookie")
    return session


def check_query(request: Request, allowed: frozenset[str]) -> dict[str, str]:
    params = dict(request.query_params)
    for key in params:
        if key not in allowed:
            raise InputError(422, "unknown_field", f"unknown query parameter {key!r}", key)
    return params


def path_id(request: Request, name: str) -> int:
    """A path id: ASCII digits, 1 to MAX_ID; anything else names nothing
    (404), as an id that is well formed but unknown does."""
    raw = request.path_params[name]
    value = whole_number(raw)
    if value is None or not 1 <= value <= MAX_ID:
        raise InputError(404, "not_found", f"no such {name.removesuffix('_id')} {raw[:40]!r}")
    return value


def known_filters(params: dict[str, str], sector_ids: Iterable[str]) -> None:
    """The category and sector filters shared by the listings name real ones."""
    query_choice(params, "category", CATEGORIES)
    query_choice(params, "sector", frozenset(sector_ids))
