"""GET /openapi.json: an OpenAPI 3.1 document of every HTTP route, built
from the app's own router.

The paths and methods come from walking the Starlette routes, so the
document cannot list a route that does not exist or miss one that does;
what the router cannot tell (roles, query, body, answers) comes from the
declarations beside the routes (openapi_ops_*.py, keyed "METHOD /path").
A route without a declaration still appears, marked `x-undeclared`, and
tests/test_openapi.py fails until it has one; a declaration naming no route
fails there too. The document is built once per app and kept."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from dispatch.http import openapi_ops_accounts, openapi_ops_alerts, openapi_ops_triage
from dispatch.http.openapi_schemas import COMPONENTS
from dispatch.http.openapi_spec import Op, operation
from dispatch.http.requests import JSON

DECLARED: dict[str, Op] = {
    **openapi_ops_accounts.OPERATIONS,
    **openapi_ops_alerts.OPERATIONS,
    **openapi_ops_triage.OPERATIONS,
}
VERSION = "21"  # the issue that last changed the surface
_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


def http_operations(routes: Iterable[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(METHOD, path) of every HTTP route; HEAD is implied by GET (Starlette
    adds it), static mounts and sockets are not HTTP operations."""
    for r in routes:
        if isinstance(r, Mount) and r.routes:
            yield from http_operations(r.routes, prefix + r.path)
        elif isinstance(r, Route):
            for method in sorted((r.methods or {"GET"}) - {"HEAD"}):
                yield method, prefix + r.path


def _others(routes: Iterable[BaseRoute]) -> tuple[list[str], list[str]]:
    """The socket paths and the static mounts, named in the description."""
    sockets = [r.path for r in routes if isinstance(r, WebSocketRoute)]
    mounts = [r.path + "/" for r in routes if isinstance(r, Mount) and not r.routes]
    return sockets, mounts


def _description(sockets: list[str], mounts: list[str]) -> str:
    return (
        "Every HTTP route of the server, generated from its router (tests/test_openapi.py keeps it true). "
        'Errors are {"error": {"code", "message", "field"?}} with a 4xx; a 5xx is a bug. '
        "`x-roles` names the roles that get an operation's answer (none: anyone); the full matrix, and "
        "the meaning of each field, are in docs/reference.md. Not HTTP operations, so not listed: the "
        f"WebSocket streams {', '.join(sockets)} (docs/reference.md, WebSocket streams) and the static "
        f"files under {', '.join(mounts)}."
    )


def _op_id(method: str, path: str) -> str:
    words = re.sub(r"[^A-Za-z0-9]+", "_", _PARAM.sub(r"by_\1", path)).strip("_")
    return f"{method.lower()}_{words or 'root'}"


def undeclared_operation(method: str, path: str, params: list[str]) -> dict[str, Any]:
    return {
        "operationId": _op_id(method, path),
        "summary": "not declared yet",
        "x-undeclared": True,
        "parameters": [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in params],
        "responses": {"default": {"description": "not declared yet"}},
    }


def document(routes: Iterable[BaseRoute]) -> dict[str, Any]:
    routes = list(routes)
    paths: dict[str, dict[str, Any]] = {}
    for method, path in http_operations(routes):
        params = _PARAM.findall(path)
        op = DECLARED.get(f"{method} {path}")
        built = operation(op, _op_id(method, path), params) if op else undeclared_operation(method, path, params)
        paths.setdefault(_PARAM.sub(r"{\1}", path), {})[method.lower()] = built
    sockets, mounts = _others(routes)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Dispatch", "version": VERSION, "description": _description(sockets, mounts)},
        "paths": paths,
        "components": {
            "schemas": COMPONENTS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "the token POST /api/auth/login answers"},
                "cookie": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "dispatch_session",
                    "description": "the session cookie (__Host-dispatch_session over https)",
                },
                "gatewaySignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Dispatch-Signature",
                    "description": "hex HMAC-SHA256 of the raw body with notify.sms_secret",
                },
            },
        },
    }


async def openapi_json(request: Request) -> Response:
    """Anyone: the document describes routes, never data."""
    app = request.app
    doc = getattr(app.state, "openapi", None)
    if doc is None:
        doc = app.state.openapi = document(app.routes)
    return JSON(doc)


routes = [Route("/openapi.json", openapi_json, methods=["GET"])]
