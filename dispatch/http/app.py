"""The Starlette application: routes, pages, error shape, lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import xstatic.pkg.leaflet
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketState

from dispatch.core.validation import InputError
from dispatch.http import (
    alerts,
    audit,
    broadcasts,
    incidents,
    metrics,
    moderation,
    notify,
    observe,
    openapi,
    pages,
    privacy,
    public,
    residents,
    sessions,
    sms_inbound,
    streams,
)
from dispatch.http.pages import WEB
from dispatch.http.requests import JSON, error_response
from dispatch.live import gc_policy
from dispatch.ports.store import StoreUnavailable
from dispatch.settings import Settings, load_settings
from dispatch.telemetry import metrics as counters
from dispatch.wiring import start_services

log = logging.getLogger("dispatch")

# Retry-After while the store is away (seconds). A PostgreSQL restart takes
# a few seconds here (tests/test_store_outage_e2e.py measures it) and the
# pool reconnects at the next request: sooner would mostly meet another
# 503, much later would sit on an alert the store could take again.
STORE_RETRY_AFTER_S = 5
# Close code for a socket already open when the store went away (RFC 6455
# 7.4.1 "Try Again Later"): the page reconnects with ?since like after 1012.
CLOSE_TRY_AGAIN = 1013


async def _input_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InputError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "bad_request")
    return JSON({"error": {"code": code, "message": str(exc.detail)}}, status_code=exc.status_code, headers=exc.headers)


async def _store_unavailable(conn: HTTPConnection, exc: Exception) -> Any:  # a Response, or None on a socket
    """503 `unavailable` for every route and handshake that needed the store,
    a 1013 close for a socket that was already open; never a 500."""
    log.warning("store unavailable: %s", exc, extra={"route": observe.route_template(conn.scope)})
    counters.store_error("request")
    if isinstance(conn, WebSocket) and conn.client_state != WebSocketState.CONNECTING:
        with contextlib.suppress(Exception):  # the client may be gone already
            await conn.close(CLOSE_TRY_AGAIN, "store unavailable: reconnect with since")
        return None
    body = {"error": {"code": "unavailable", "message": "the store cannot be reached now: retry later"}}
    return JSON(body, status_code=503, headers={"Retry-After": str(STORE_RETRY_AFTER_S)})


async def _unexpected(request: Request, exc: Exception) -> Response:
    # a bug: log it (no personal data: the route template, not the path), never a traceback to the client
    log.exception("unhandled error", extra={"method": request.method, "route": observe.route_template(request.scope)})
    return JSON({"error": {"code": "internal", "message": "internal error"}}, status_code=500)


def create_app(settings: Settings | None = None, *, tune_gc: bool = False) -> Starlette:
    """tune_gc: for a server process (dispatch serve), not for an app
    embedded in another program such as the test runner."""
    settings = settings or load_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.svc = await start_services(settings)
        collector = None
        if tune_gc:  # see dispatch/gc_policy.py
            gc_policy.take_over()
            hub = app.state.svc.hub
            collector = asyncio.get_running_loop().create_task(gc_policy.run(lambda: hub.last_write))
        try:
            yield
        finally:
            if collector is not None:
                collector.cancel()
            await app.state.svc.stop()

    app = Starlette(
        routes=[
            *public.routes,
            *metrics.routes,
            *openapi.routes,
            *sessions.routes,
            *alerts.routes,
            *broadcasts.routes,
            *incidents.routes,
            *residents.routes,
            *moderation.routes,
            *notify.routes,
            *sms_inbound.routes,
            *audit.routes,
            *privacy.routes,
            *streams.routes,
            *pages.routes,
            Mount("/static", StaticFiles(directory=WEB / "static"), name="static"),
            Mount("/vendor/leaflet", StaticFiles(directory=xstatic.pkg.leaflet.BASE_DIR), name="leaflet"),
            # absent without npm: 404 then, and the desk draws no charts
            Mount(
                "/vendor/chart.js",
                pages.OptionalStaticFiles(directory=pages.CHART_JS_DIR, check_dir=False),
                name="chartjs",
            ),
        ],
        exception_handlers={
            InputError: _input_error,
            HTTPException: _http_error,
            StoreUnavailable: _store_unavailable,
            Exception: _unexpected,
        },
        lifespan=lifespan,
    )
    app.add_middleware(pages.SecurityHeaders)
    app.add_middleware(observe.RequestContext)  # outermost: its id is on every line of the request
    return app


def app_from_env() -> Starlette:
    """Factory for `uvicorn --factory` workers: the CLI hands the config path
    down in DISPATCH_CONFIG."""
    return create_app(load_settings(), tune_gc=True)
