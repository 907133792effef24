"""Request plumbing shared by the HTTP routes: bodies, errors, principals."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from dispatch.core.model import User
from dispatch.core.validation import MAX_BODY, InputError, parse_json_object
from dispatch.http.state import services
from dispatch.usecases.sessions import credentials, origin_allowed, require_role


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def error_response(err: InputError) -> JSON:
    return JSON(err.body(), status_code=err.status)


async def read_json(request: Request) -> dict[str, Any]:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise InputError(413, "body_too_large", f"the body is over {MAX_BODY // 1024} KiB")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise InputError(413, "body_too_large", f"the body is over {MAX_BODY // 1024} KiB")
        chunks.append(chunk)
    return parse_json_object(b"".join(chunks))


async def principal(request: Request, roles: Iterable[str], write: bool = False) -> User:
    """The authenticated user, if their role is in `roles`. Cookie-authenticated
    writes must also come from an allowed Origin (CSRF)."""
    svc = services(request)
    token, from_cookie = credentials(request.headers, request.cookies)
    user = await svc.sessions.user_for(token)
    user = require_role(user, roles)
    if (
        write
        and from_cookie
        and not origin_allowed(
            request.headers.get("origin"), request.headers.get("host"), svc.settings.server_allowed_origins
        )
    ):
        raise InputError(403, "forbidden_origin", "this origin may not write with a session cookie")
    return user


def check_query(request: Request, allowed: frozenset[str]) -> dict[str, str]:
    params = dict(request.query_params)
    for key in params:
        if key not in allowed:
            raise InputError(422, "unknown_field", f"unknown query parameter {key!r}", key)
    return params
