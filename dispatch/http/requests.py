"""Request plumbing shared by the HTTP routes: bodies, errors, principals."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from dispatch.core.categories import CATEGORIES
from dispatch.core.model import Session, User
from dispatch.core.validation import MAX_BODY, InputError, RateLimited, parse_json_object
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


# ids are signed 64-bit integers in both stores (SQLite INTEGER, PostgreSQL
# BIGINT): a larger number names nothing, and must not reach the driver,
# which would overflow (a 500 schemathesis found)
MAX_ID = 2**63 - 1


def is_number(raw: str) -> bool:
    """ASCII digits only: str.isdigit also takes "²" or "①", which int()
    refuses with a ValueError (a 500 schemathesis found)."""
    return raw.isascii() and raw.isdigit()


def path_id(request: Request, name: str) -> int:
    """A numeric path parameter; anything else names nothing (404)."""
    raw = request.path_params[name]
    if not is_number(raw) or int(raw) > MAX_ID:
        raise InputError(404, "not_found", f"no such {name.removesuffix('_id')} {raw!r}")
    return int(raw)


# The instants a query may name: the stores hold UTC instants from 1970 on,
# and an instant at either end of datetime's range overflows once moved to
# UTC or shifted by a window (9999-12-31T23:59:59-01:00, or until=0001-01-01
# less GET /api/stats' 30 days: 500s schemathesis found).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def parse_time(raw: str, field: str) -> datetime:
    """ISO 8601; a time without offset is UTC."""
    try:
        ts = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(422, "invalid_type", f"{field} must be an ISO 8601 date-time", field) from None
    ts = ts if ts.tzinfo else ts.replace(tzinfo=UTC)
    try:
        ts = ts.astimezone(UTC)
    except OverflowError:
        ts = LATEST  # past the end of the range: refused below
    if not EARLIEST <= ts < LATEST:
        raise InputError(422, "out_of_range", f"{field} must be between 1970 and 9000", field)
    return ts


def known_filters(params: dict[str, str], sector_ids: Iterable[str]) -> None:
    """The category and sector filters shared by the listings name real ones."""
    if "category" in params and params["category"] not in CATEGORIES:
        raise InputError(422, "unknown_category", f"unknown category {params['category']!r}", "category")
    if "sector" in params and params["sector"] not in sector_ids:
        raise InputError(422, "unknown_sector", f"unknown sector {params['sector']!r}", "sector")
