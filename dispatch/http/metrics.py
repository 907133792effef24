"""GET /metrics: the Prometheus exposition (dispatch.telemetry.metrics),
for the machine itself or a scraper holding metrics.token."""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dispatch.core.validation import InputError
from dispatch.http.app_state import services
from dispatch.settings import Settings
from dispatch.telemetry import metrics

LOOPBACK = frozenset({"127.0.0.1", "::1", "::ffff:127.0.0.1"})
# set by a proxy in front of us (deploy/nginx/dispatch.conf sets
# X-Forwarded-For): such a request comes from the proxy's loopback
# connection but from a client anywhere
PROXY_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")


def has_token(request: Request, settings: Settings) -> bool:
    """`Authorization: Bearer <metrics.token>`, compared in constant time;
    an empty token matches nothing."""
    token = settings.metrics_token
    auth = request.headers.get("authorization", "")
    if not token or auth[:7].lower() != "bearer ":
        return False
    return hmac.compare_digest(auth[7:].strip().encode(), token.encode())


def from_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    return host in LOOPBACK and not any(h in request.headers for h in PROXY_HEADERS)


async def scrape(request: Request) -> Response:
    svc = services(request)
    if not (from_loopback(request) or has_token(request, svc.settings)):
        raise InputError(403, "forbidden", "metrics are for this machine or a scraper with the metrics token")
    try:
        depth = await svc.store.outbox_depth()
    except Exception:  # the store is down: the rest of the scrape is what tells it
        metrics.store_error("outbox_depth")
        depth = {}
    body = metrics.render([metrics.outbox_family(depth)])
    return Response(body, media_type=metrics.CONTENT_TYPE)


routes = [Route("/metrics", scrape)]
