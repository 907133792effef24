"""The typed way from a request or a socket to the running services: every
route and stream goes through `services()`, so the edge is type-checked
against dispatch.wiring.Services instead of reading `app.state` as Any."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from dispatch.wiring import Services


def services(conn: HTTPConnection) -> Services:
    svc = conn.app.state.svc
    if not isinstance(svc, Services):  # only before the lifespan has started
        raise RuntimeError("the application's services are not started")
    return svc
