"""HTML pages, the small read-only routes they need, and the headers every
response carries.

No inline script or style anywhere, so the Content-Security-Policy can be
strict: scripts, styles and sockets from our own origin, map tiles from the
configured tile host.

Hexagons (wall and desk maps): the pages bucket open alerts into H3 cells
themselves, so one event touches one hexagon. They need two things the
browser cannot compute without shipping the whole H3 library:
  * GET /ops/hexagons?res=R - the snapshot to start from: every open alert
    as [id, res-9 cell, priority, status], the event seq it is consistent
    with (resume the stream from there), and the exact H3 outline of every
    occupied cell at resolution R (a GeoJSON FeatureCollection);
  * GET /map/cells?ids=a,b - exact outlines of a few cells, for a hexagon
    that appears live (one request per new hexagon, cached by the page).
A cell's parent at a coarser resolution is a bit operation on its id, which
the pages do themselves (web/static/map/h3.js, h3Parent).

Facts the pages share with the server (GET /config, public, read-only): the
roles (core/model.py), the statuses and which are open (core/lifecycle.py),
the priority bands (core/scoring.py), the categories (core/categories.py),
and the French words the pages show for statuses and bands. The pages'
scripts fetch it once (web/static/shared/config.js) and hard-code none of
it. A JSON route rather than a block in the page: the pages carry no
<script> element without a src at all (their CSP test says so), the same
object serves every page, and it is readable before login, when the
resident and staff pages need the roles to decide who may enter.

Proofs of address: the moderation page shows a PDF proof in an <iframe> of
GET /api/moderation/residents/{id}/proof. Every other response forbids
being framed at all (frame-ancestors 'none', X-Frame-Options: DENY); that
route sends a policy of its own (sandboxed, frame-ancestors 'self') and
X-Frame-Options: SAMEORIGIN, which SecurityHeaders keeps. The pages' own
policy needs no change for it: frame-src falls back to default-src 'self',
and object-src stays 'none' (no <object> or <embed>, hence no plugin
content)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import h3
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dispatch.core.audit import AUDIT_ROLES
from dispatch.core.categories import CATEGORIES
from dispatch.core.joining import EXTENSIONS as PROOF_EXTENSIONS
from dispatch.core.joining import MAX_PROOF_BYTES
from dispatch.core.lifecycle import CLOSED, OPEN, RESIDENT_STATUS, RESIDENT_STATUSES, STATUSES
from dispatch.core.model import (
    ACCOUNT_ADMIN_ROLES,
    ACCOUNT_STATUSES,
    BROADCAST_LEVELS,
    MODERATOR_ROLES,
    OPERATOR_ROLES,
    OPS_VIEW_ROLES,
    RESIDENT_ROLES,
    ROLES,
    STAFF_ROLES,
    AlertQuery,
)
from dispatch.core.notify_settings import CHANNELS
from dispatch.core.passwords import MIN_LENGTH as PASSWORD_MIN_LENGTH
from dispatch.core.scoring import PRIORITY_BANDS
from dispatch.core.validation import InputError
from dispatch.http import sessions
from dispatch.http.app_state import services
from dispatch.http.requests import JSON, check_query, is_number, principal
from dispatch.settings import REPO_ROOT

# templates and static files, beside the package in the repository
WEB = REPO_ROOT / "web"
_env = Environment(loader=FileSystemLoader(WEB / "templates"), autoescape=select_autoescape(["html"]))
# Chart.js (npm, package.json "dependencies"), served from node_modules under
# /vendor/chart.js/ (app.py) so the strict CSP holds; where npm never ran,
# the desk's statistics show their tables alone (web/static/desk/charts.js)
CHART_JS_DIR = REPO_ROOT / "node_modules" / "chart.js" / "dist"
CHART_JS = "chart.umd.min.js"


class OptionalStaticFiles(StaticFiles):
    """Static files from a folder that may not exist (node_modules before
    `npm ci`): then every path answers 404, where Starlette's own would
    answer 500 on the first request (check_dir=False defers its check to
    then, it does not drop it)."""

    async def check_config(self) -> None:
        if self.directory is not None and Path(self.directory).is_dir():
            await super().check_config()


# Resolutions the maps use (web/static/map/h3.js resForZoom): 6 (city overview)
# to 9 (the resolution alerts are stored at; finer would reveal nothing more).
HEX_RES = range(5, 10)
MAX_CELLS = 300
SNAPSHOT_LIMIT = 5000  # per open status

# What the pages say for the codes the API speaks (the codes themselves are
# the core's); one word per status and per priority band.
STATUS_LABELS = {
    "new": "Nouveau",
    "acknowledged": "Pris en compte",
    "assigned": "Équipe affectée",
    "in_progress": "En cours",
    "resolved": "Résolu",
    "dismissed": "Infondé",
    "duplicate": "Doublon",
}
# the same states in a resident's words (core/lifecycle.RESIDENT_STATUS maps
# a staff status to one of these); the desk shows both side by side
RESIDENT_STATUS_LABELS = {
    "new": "Reçue",
    "acknowledged": "Prise en compte",
    "assigned": "Une équipe est affectée",
    "in_progress": "Intervention en cours",
    "resolved": "Traitée",
}
BAND_LABELS = {"crit": "Urgent", "high": "Élevée", "med": "Moyenne", "low": "Faible"}
# the media types a proof may be (joining judges them from the bytes)
PROOF_TYPES = tuple(PROOF_EXTENSIONS)
# and for a resident account's standing (GET /api/me `status`)
ACCOUNT_LABELS = {
    "pending": "En attente de vérification",
    "validated": "Compte validé",
    "rejected": "Demande refusée",
    "suspended": "Compte suspendu",
}
# a broadcast's level, and the channels a resident may be reached on (issue 19)
LEVEL_LABELS = {"info": "Information", "warning": "Vigilance", "urgent": "Urgent"}
CHANNEL_LABELS = {"app": "Dans l'application", "email": "E-mail", "sms": "SMS", "push": "Notification sur cet appareil"}


def _in_order(roles: frozenset[str]) -> list[str]:
    return [r for r in ROLES if r in roles]


def page_config() -> dict[str, Any]:
    """GET /config: what the pages' scripts would otherwise copy from Python."""
    return {
        "roles": {
            "all": list(ROLES),
            "staff": _in_order(STAFF_ROLES),
            "operator": _in_order(OPERATOR_ROLES),
            # who may read the ops picture (desk, wall): exact points, authors
            "ops": _in_order(OPS_VIEW_ROLES),
            "moderator": _in_order(MODERATOR_ROLES),
            "resident": _in_order(RESIDENT_ROLES),
            # who may open /ops/moderation (the queues, suspend, reinstate);
            # "moderator" may also see proofs and decide on residents and alerts
            "moderation": _in_order(ACCOUNT_ADMIN_ROLES),
            # who may open /ops/audit and read GET /api/audit
            "audit": _in_order(AUDIT_ROLES),
        },
        "statuses": {
            "open": list(OPEN),
            "closed": list(CLOSED),
            "labels": {s: STATUS_LABELS.get(s, s) for s in STATUSES},
        },
        "resident_statuses": {
            "of": dict(RESIDENT_STATUS),
            "labels": {s: RESIDENT_STATUS_LABELS[s] for s in RESIDENT_STATUSES},
        },
        "bands": [{"id": b, "min": low, "label": BAND_LABELS.get(b, b)} for b, low in PRIORITY_BANDS],
        "categories": [c.as_dict() for c in CATEGORIES.values()],
        "accounts": {
            "statuses": list(ACCOUNT_STATUSES),
            "labels": {s: ACCOUNT_LABELS.get(s, s) for s in ACCOUNT_STATUSES},
            "password_min_length": PASSWORD_MIN_LENGTH,
        },
        "proof": {"types": list(PROOF_TYPES), "max_bytes": MAX_PROOF_BYTES},
        # lists of {id, label} like the bands: a channel named "email" is no key
        "levels": [{"id": lv, "label": LEVEL_LABELS.get(lv, lv)} for lv in BROADCAST_LEVELS],
        "channels": [{"id": c, "label": CHANNEL_LABELS.get(c, c)} for c in CHANNELS],
    }


PAGE_CONFIG = page_config()


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


# Responses a cache may keep: the pages' own files and the public facts of
# the town, which hold nobody's data. Every other response (the API, the
# pages, /session) may carry personal data and is sent Cache-Control:
# no-store (issue 20, minimisation), so neither a shared proxy nor the
# browser's disk cache keeps it.
CACHEABLE_PREFIXES = ("/static/", "/vendor/")
CACHEABLE_PATHS = frozenset({"/api/sectors", "/api/categories", "/healthz"})


def may_cache(path: str) -> bool:
    return path in CACHEABLE_PATHS or path.startswith(CACHEABLE_PREFIXES)


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
                # a response with a policy of its own (a proof file) keeps it,
                # and so does one that our own pages may frame (that proof)
                if not any(k == b"content-security-policy" for k, _ in headers):
                    headers.append((b"content-security-policy", self._csp))
                if not any(k == b"x-frame-options" for k, _ in headers):
                    headers.append((b"x-frame-options", b"DENY"))
                headers += [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                ]
                if not may_cache(scope["path"]) and not any(k == b"cache-control" for k, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def render(request: Request, name: str, **context: Any) -> Response:
    svc = services(request)
    page = _env.get_template(name).render(
        city_name=svc.settings.city_name,
        tile_url=svc.settings.map_tile_url,
        attribution=svc.settings.map_attribution,
        bands=PAGE_CONFIG["bands"],  # the map legends
        **context,
    )
    # pages are small and always current; never serve a stale sketch from cache
    return HTMLResponse(page, headers={"cache-control": "no-store"})


async def resident(request: Request) -> Response:
    # the sign-up form's file inputs accept what the server takes
    return render(request, "resident.html", proof_types=",".join(PROOF_TYPES), password_min_length=PASSWORD_MIN_LENGTH)


async def desk(request: Request) -> Response:
    # the template names the file (a fixed path); the page loads it only if npm brought it
    return render(request, "desk.html", chart_js=(CHART_JS_DIR / CHART_JS).is_file())


async def wall(request: Request) -> Response:
    return render(request, "wall.html")


async def moderation(request: Request) -> Response:
    return render(request, "moderation.html")


def _ring(cell: str) -> list[list[float]]:
    """The cell's exact outline as a closed GeoJSON ring ([lon, lat])."""
    ring = [[round(lon, 7), round(lat, 7)] for lat, lon in h3.cell_to_boundary(cell)]
    return [*ring, ring[0]]


def _res(q: dict[str, str]) -> int:
    raw = q.get("res", "7")
    if not is_number(raw) or int(raw) not in HEX_RES:
        raise InputError(422, "out_of_range", f"res must be between {HEX_RES[0]} and {HEX_RES[-1]}", "res")
    return int(raw)


async def hexagons(request: Request) -> Response:
    svc = services(request)
    await principal(request, OPS_VIEW_ROLES)
    res = _res(check_query(request, frozenset({"res"})))
    # head first: the alerts listed after it are at least that fresh, and a
    # stream resumed from it replays anything newer (pages apply events
    # idempotently, so an alert both listed and replayed counts once)
    seq = await svc.store.head_seq()
    alerts: list[list[Any]] = []
    buckets: dict[str, list[Any]] = {}
    for status in OPEN:
        for a in await svc.store.list_alerts(AlertQuery(status=status, limit=SNAPSHOT_LIMIT)):
            alerts.append([a.id, a.cell, a.priority, a.status])
            parent = h3.cell_to_parent(a.cell, res) if h3.get_resolution(a.cell) > res else a.cell
            b = buckets.setdefault(parent, [0, a.priority])
            b[0] += 1
            b[1] = max(b[1], a.priority)
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [_ring(cell)]},
            "properties": {"cell": cell, "count": n, "max_priority": top},
        }
        for cell, (n, top) in sorted(buckets.items())
    ]
    return JSON({"type": "FeatureCollection", "res": res, "seq": seq, "features": features, "alerts": alerts})


async def config(request: Request) -> Response:
    # public: nothing here is secret (/api/categories is public too), and the
    # pages need the roles before anyone has logged in
    return JSON(PAGE_CONFIG, headers={"cache-control": "no-store"})


async def service_worker(request: Request) -> Response:
    """The residents' service worker, from the site's root so that its
    scope is the whole site (a worker's scope may not be above its own
    path). no-cache: the browser checks for a new version on every visit."""
    return FileResponse(WEB / "static" / "sw.js", media_type="text/javascript", headers={"cache-control": "no-cache"})


async def session(request: Request) -> Response:
    """GET /api/me, but 200 with null when nobody is logged in: a page that
    opens on its login form is normal, and Chromium logs every 4xx answer as
    a console error, which would bury real ones."""
    try:
        return await sessions.me(request)
    except InputError as exc:
        if exc.status == 401:
            return JSON(None, headers={"cache-control": "no-store"})
        raise


async def cells(request: Request) -> Response:
    # any logged-in account: an H3 outline is public geometry, and the
    # resident page draws nearby alerts as their (coarse) cell
    await principal(request, ROLES)
    q = check_query(request, frozenset({"ids"}))
    ids = [c for c in q.get("ids", "").split(",") if c]
    if not ids or len(ids) > MAX_CELLS:
        raise InputError(422, "out_of_range", f"ids: between 1 and {MAX_CELLS} H3 cells, comma-separated", "ids")
    out: dict[str, list[list[float]]] = {}
    for cell in ids:
        if not h3.is_valid_cell(cell):
            raise InputError(422, "invalid_cell", f"{cell!r} is not an H3 cell", "ids")
        out[cell] = [[round(lat, 7), round(lon, 7)] for lat, lon in h3.cell_to_boundary(cell)]
    return JSON({"cells": out}, headers={"cache-control": "private, max-age=86400"})


routes = [
    Route("/", resident),
    Route("/ops", desk),
    Route("/ops/wall", wall),
    Route("/ops/moderation", moderation),
    Route("/ops/hexagons", hexagons),
    Route("/map/cells", cells),
    Route("/session", session),
    Route("/config", config),
    Route("/sw.js", service_worker),
]
