"""Each request and socket: its request id (logs, X-Request-ID), its line
in the log and its count in the metrics, by route template.

Plain ASGI middleware, like pages.SecurityHeaders: it sees WebSockets too
and buffers nothing."""

from __future__ import annotations

import logging
import time

from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dispatch.telemetry import metrics
from dispatch.telemetry.logs import HEADER, REQUEST_ID, request_id

log = logging.getLogger("dispatch.http")
ws_log = logging.getLogger("dispatch.ws")
_HEADER = HEADER.encode()


def route_template(scope: Scope) -> str:
    """The route that matched (`/api/alerts/{id}`), never the path: a label
    per path would grow without bound. Starlette's router puts the route in
    the scope; nothing matched: `unmatched`."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return "unmatched"
    return path + "/{path}" if isinstance(route, Mount) else path


def _incoming(scope: Scope) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == _HEADER:
            return bytes(value).decode("latin-1")
    return None


def _with_id(message: Message, rid: str) -> Message:
    headers = [*message.get("headers", ()), (_HEADER, rid.encode())]
    return {**message, "headers": headers}


class RequestContext:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        rid = request_id(_incoming(scope))
        # set, not reset on an error: uvicorn runs each request in a task of
        # its own, and the error handler outside this middleware logs the
        # failure with this id
        REQUEST_ID.set(rid)
        if scope["type"] == "http":
            await self._http(scope, receive, send, rid)
        else:
            await self._socket(scope, receive, send, rid)
        REQUEST_ID.set(None)

    async def _http(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        t0 = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = _with_id(message, rid)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            if status == 0:  # the error handler answers 500
                status = 500
            raise
        finally:
            route = route_template(scope)
            metrics.http_request(route, scope["method"], status)
            ms = round((time.perf_counter() - t0) * 1e3, 1)
            fields = {"method": scope["method"], "route": route, "status": status, "ms": ms}
            log.info("request", extra=fields)

    async def _socket(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        state = {"accepted": False}

        async def send_with_id(message: Message) -> None:
            kind = message["type"]
            if kind == "websocket.accept":
                state["accepted"] = True
                message = _with_id(message, rid)
                ws_log.debug("socket open", extra={"route": route_template(scope)})
            elif kind == "websocket.http.response.start":
                message = _with_id(message, rid)
                ws_log.info("socket refused", extra={"route": route_template(scope), "status": message["status"]})
            elif kind == "websocket.close" and not state["accepted"]:
                ws_log.info("socket refused", extra={"route": route_template(scope), "status": 403})
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if state["accepted"]:
                ws_log.debug("socket closed", extra={"route": route_template(scope)})
