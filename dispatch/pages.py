"""HTML pages and the headers every response carries.

No inline script or style anywhere, so the Content-Security-Policy can be
strict: scripts, styles and sockets from our own origin, map tiles from the
configured tile host."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

WEB = Path(__file__).resolve().parent.parent / "web"
_env = Environment(loader=FileSystemLoader(WEB / "templates"), autoescape=select_autoescape(["html"]))


def tile_origin(tile_url: str) -> str:
    parts = urlsplit(tile_url)
    host = parts.netloc.replace("{s}.", "*.")
    return f"{parts.scheme}://{host}" if parts.scheme and host else ""


def csp(tile_url: str) -> str:
    img = " ".join(filter(None, ["'self'", "data:", tile_origin(tile_url)]))
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src {img}; connect-src 'self'; font-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


class SecurityHeaders:
    """Plain ASGI middleware (not BaseHTTPMiddleware, which would buffer
    responses and get in the way of WebSockets)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._csp: bytes | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                if self._csp is None:
                    svc = scope["app"].state.svc
                    self._csp = csp(svc.settings.map_tile_url).encode()
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", self._csp),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                    (b"x-frame-options", b"DENY"),
                ]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def render(request: Request, name: str, **context: Any) -> Response:
    svc = request.app.state.svc
    page = _env.get_template(name).render(
        city_name=svc.settings.city_name,
        tile_url=svc.settings.map_tile_url,
        attribution=svc.settings.map_attribution,
        **context,
    )
    return HTMLResponse(page)


async def wall(request: Request) -> Response:
    return render(request, "wall.html")


routes = [
    Route("/ops/wall", wall),
]
