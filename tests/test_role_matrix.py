"""The role matrix of docs/reference.md ("Roles"), checked against a real
server: every route the app registers (walked from create_app().routes, so a
new route without a row fails) and both streams, for every kind of caller
(none, pending, rejected, suspended, resident, proxy, referent, dispatcher,
supervisor, moderator, admin), with the exact status the table gives; then,
for every cookie-authenticated change and both handshakes, a foreign Origin."""

from __future__ import annotations

import hashlib
import hmac
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import websockets

from dispatch.settings import REPO_ROOT, load_settings
from tests.e2e import CENTRE, PASSWORD, Accounts, embedded_env, server_factory
from tests.joining_kit import ROLES, Roster, join, roster
from tests.support import dispatch_cli, login
from tests.test_docs import _walk, path_shape, reference, rows, section

EVIL = "https://evil.example"
# changes that need no session, or are not changes (docs/reference.md, HTTP)
NOT_CSRF_CHECKED = {
    "POST /api/auth/login",
    "POST /api/residents",
    "POST /api/broadcasts/preview",
    "POST /api/sms/status",  # signed by the gateway, never cookie-authenticated
}
SMS_SECRET = "matrix-secret"
# the intake is signed too; called here unsigned, so every caller, logged in
# or not, gets 403 bad_signature
SIGNED = {"POST /api/sms/inbound"}
NOT_CSRF_CHECKED |= SIGNED


def documented() -> dict[str, dict[str, int]]:
    table = rows(section(reference(), "Roles"))
    out = {}
    for route, cells in table.items():
        method, _, path = route.partition(" ")
        assert len(cells) == 1 + len(ROLES), route
        out[f"{method} {path_shape(path)}"] = dict(zip(ROLES, (int(c) for c in cells[1:])))
    return out


def registered() -> set[str]:
    from starlette.routing import Mount
    from starlette.staticfiles import StaticFiles

    from dispatch.http.app import create_app

    app = create_app(load_settings(REPO_ROOT / "config.toml", env={}))
    out = {f"{m} {path_shape(p)}" for m, p in _walk(app.routes)}
    out |= {f"GET {r.path}/{{}}" for r in app.routes if isinstance(r, Mount) and isinstance(r.app, StaticFiles)}
    return out


def test_every_registered_route_has_a_row_and_every_row_a_route() -> None:
    assert registered() == set(documented())


@dataclass
class Fixtures:
    """Targets for the routes that need one, several where each allowed
    caller must succeed on its own (a merge, a suspension...)."""

    roster: Roster
    alert: int = 0  # visible to every resident column
    flagged: int = 0
    hidden: int = 0
    cell: str = ""
    incident: int = 0
    merges: dict[str, tuple[int, int]] = field(default_factory=dict)
    splits: dict[str, tuple[int, int]] = field(default_factory=dict)
    unit: int = 0
    broadcast: int = 0
    applicant: int = 0
    targets: dict[str, int] = field(default_factory=dict)
    counter: itertools.count[int] = field(default_factory=itertools.count)


async def prepare(url: str, env: dict[str, str]) -> Fixtures:
    fx = Fixtures(await roster(url, env))
    author = fx.roster.clients["resident"]
    other = fx.roster.clients["referent"]

    async def alert(lat: float, lon: float, category: str = "theft", by: Any = author) -> dict[str, Any]:
        r = await by.post_alert(category=category, lat=lat, lon=lon)
        assert r.status_code == 201, r.text
        return dict(r.json())

    first = await alert(*CENTRE)
    fx.alert, fx.cell, fx.incident = first["id"], first["cell"], first["incident"]
    fx.flagged = (await alert(CENTRE[0] + 0.0005, CENTRE[1], "vandalism"))["id"]
    fx.hidden = (await alert(CENTRE[0] - 0.0005, CENTRE[1], "ecology"))["id"]
    for k, role in enumerate(("dispatcher", "supervisor")):
        lat, lon = CENTRE[0] + 0.01 * (k + 1), CENTRE[1] + 0.01
        fire, eco = await alert(lat, lon, "fire"), await alert(lat + 0.003, lon, "weather")
        fx.merges[role] = (fire["incident"], eco["incident"])
        a, b = await alert(lat, lon - 0.02, "rodeo"), await alert(lat, lon - 0.02, "rodeo", other)
        assert a["incident"] == b["incident"]
        fx.splits[role] = (a["incident"], b["id"])
    fx.unit = int(dispatch_cli("unit", "add", "Patrouille 1", env=env).stdout.strip())
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        fx.applicant = (await join(http, "applicant@example.org")).json()["id"]
    async with httpx.AsyncClient(base_url=url, headers=fx.roster.headers("dispatcher"), timeout=30) as http:
        fx.broadcast = (await http.post("/api/broadcasts", json=BROADCAST)).json()["id"]
    accounts = Accounts(env)
    for role in ("moderator", "admin"):
        fx.targets[role] = accounts.add("resident", f"target-{role}@example.org", *CENTRE)
    fx.targets["erase"] = accounts.add("resident", "target-erase@example.org", *CENTRE)
    return fx


Call = Callable[[httpx.AsyncClient, str, Fixtures], Awaitable[httpx.Response]]


def _unique(fx: Fixtures) -> int:
    return next(fx.counter)


async def _login(http: httpx.AsyncClient, role: str, fx: Fixtures) -> httpx.Response:
    email = fx.roster.emails.get(role, "nobody@example.org")
    return await http.post("/api/auth/login", json={"email": email, "password": PASSWORD if role != "none" else "x"})


async def _logout(http: httpx.AsyncClient, role: str, fx: Fixtures) -> httpx.Response:
    headers = {}
    if role != "none":  # a session of its own, so that the others live on
        fresh = await login(fx.roster.url, fx.roster.emails[role], PASSWORD)
        headers = {"Authorization": f"Bearer {fresh.token}"}
        await fresh.aclose()
    return await http.post("/api/auth/logout", headers=headers)


def get(path: str) -> Call:
    async def call(http: httpx.AsyncClient, role: str, fx: Fixtures) -> httpx.Response:
        return await http.get(path.format(fx=fx))

    return call


def send(method: str, path: str, body: Callable[[str, Fixtures], Any]) -> Call:
    async def call(http: httpx.AsyncClient, role: str, fx: Fixtures) -> httpx.Response:
        return await http.request(method, path.format(fx=fx, role=role), json=body(role, fx))

    return call


async def _join(http: httpx.AsyncClient, role: str, fx: Fixtures) -> httpx.Response:
    return await join(http, f"joiner-{role}-{_unique(fx)}@example.org")


def _merge(http: httpx.AsyncClient, role: str, fx: Fixtures) -> Awaitable[httpx.Response]:
    target, other = fx.merges.get(role, (fx.incident, fx.incident))
    return http.post(f"/api/incidents/{target}/merge", json={"incidents": [other]})


def _split(http: httpx.AsyncClient, role: str, fx: Fixtures) -> Awaitable[httpx.Response]:
    incident, alert = fx.splits.get(role, (fx.incident, fx.alert))
    return http.post(f"/api/incidents/{incident}/split", json={"alerts": [alert]})


def _suspend(http: httpx.AsyncClient, role: str, fx: Fixtures) -> Awaitable[httpx.Response]:
    target = fx.targets.get(role, fx.targets["admin"])
    return http.post(f"/api/moderation/accounts/{target}", json={"action": "suspend", "reason": "matrice"})


BROADCAST = {"text": "Essai", "level": "info", "sectors": ["centre"]}


async def _sms_status(http: httpx.AsyncClient, role: str, fx: Fixtures) -> httpx.Response:
    body = b'{"id": "b1-1-sms", "status": "delivered"}'
    signature = hmac.new(SMS_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"X-Dispatch-Signature": signature, "Content-Type": "application/json"}
    return await http.post("/api/sms/status", content=body, headers=headers)


# a PushSubscription's shape (the key is a valid P-256 point; nothing is sent to it)
SUBSCRIPTION = {
    "endpoint": "https://push.example/matrix",
    "keys": {
        "p256dh": "BPdgbipri9VI-yzcJL-p5qdGd7QKaI1nIQVKGiPPy8B1r90XmX8TxZN0_aCStH7vTCu09CZxCQAZ4x6dfu1sKEM",
        "auth": "MDEyMzQ1Njc4OWFiY2RlZg",
    },
}
CALLS: dict[str, Call] = {
    "GET /healthz": get("/healthz"),
    "GET /metrics": get("/metrics"),  # from loopback, as every test server is
    "GET /config": get("/config"),
    "GET /openapi.json": get("/openapi.json"),
    "GET /sw.js": get("/sw.js"),
    # a session is no signature: every caller is refused alike
    "POST /api/sms/inbound": send("POST", "/api/sms/inbound", lambda r, fx: {"from": "+33612345678", "text": "FEU"}),
    "GET /api/sectors": get("/api/sectors"),
    "GET /api/categories": get("/api/categories"),
    "GET /": get("/"),
    "GET /ops": get("/ops"),
    "GET /ops/wall": get("/ops/wall"),
    "GET /ops/moderation": get("/ops/moderation"),
    "GET /static/{}": get("/static/app.css"),
    "GET /vendor/leaflet/{}": get("/vendor/leaflet/leaflet.js"),
    "GET /vendor/chart.js/{}": get("/vendor/chart.js/chart.umd.min.js"),
    "GET /session": get("/session"),
    "POST /api/auth/login": _login,
    "POST /api/auth/logout": _logout,
    "GET /api/me": get("/api/me"),
    "POST /api/residents": _join,
    "GET /map/cells": get("/map/cells?ids={fx.cell}"),
    "GET /api/alerts": get("/api/alerts"),
    "GET /api/alerts/{}": get("/api/alerts/{fx.alert}"),
    "POST /api/alerts": send(
        "POST", "/api/alerts", lambda r, fx: {"category": "theft", "lat": CENTRE[0], "lon": CENTRE[1]}
    ),
    "PATCH /api/alerts/{}": send("PATCH", "/api/alerts/{fx.alert}", lambda r, fx: {"note": f"vu par {r}"}),
    "POST /api/alerts/{}/flags": send("POST", "/api/alerts/{fx.flagged}/flags", lambda r, fx: {"reason": "faux"}),
    "POST /api/broadcasts": send("POST", "/api/broadcasts", lambda r, fx: BROADCAST),
    "POST /api/broadcasts/preview": send("POST", "/api/broadcasts/preview", lambda r, fx: {"sectors": ["centre"]}),
    "GET /api/broadcasts": get("/api/broadcasts"),
    "GET /api/incidents": get("/api/incidents"),
    "GET /api/incidents/{}": get("/api/incidents/{fx.incident}"),
    "PATCH /api/incidents/{}": send("PATCH", "/api/incidents/{fx.incident}", lambda r, fx: {"note": "vu"}),
    "POST /api/incidents/{}/merge": _merge,
    "POST /api/incidents/{}/split": _split,
    "GET /api/handover": get("/api/handover"),
    "GET /ops/hexagons": get("/ops/hexagons"),
    "GET /api/units": get("/api/units"),
    "POST /api/units": send("POST", "/api/units", lambda r, fx: {"name": f"Unité {r} {_unique(fx)}"}),
    "PATCH /api/units/{}": send("PATCH", "/api/units/{fx.unit}", lambda r, fx: {"status": "off_duty"}),
    "GET /api/me/export": get("/api/me/export"),
    # a wrong password: the caller's own account must live on for the other routes
    "DELETE /api/me": send("DELETE", "/api/me", lambda r, fx: {"password": "pas le bon mot de passe"}),
    "GET /api/admin/residents/{}/export": get("/api/admin/residents/{fx.targets[admin]}/export"),
    "DELETE /api/admin/residents/{}": send("DELETE", "/api/admin/residents/{fx.targets[erase]}", lambda r, fx: None),
    "GET /api/stats": get("/api/stats"),
    "GET /api/stats.csv": get("/api/stats.csv"),
    "GET /api/audit": get("/api/audit"),
    "GET /ops/audit": get("/ops/audit"),
    "GET /api/moderation/residents": get("/api/moderation/residents?status=pending"),
    "GET /api/moderation/residents/{}/proof": get("/api/moderation/residents/{fx.applicant}/proof"),
    "POST /api/moderation/residents/{}": send(
        "POST", "/api/moderation/residents/{fx.applicant}", lambda r, fx: {"decision": "validate"}
    ),
    "GET /api/moderation/flags": get("/api/moderation/flags"),
    "POST /api/moderation/alerts/{}": send(
        "POST", "/api/moderation/alerts/{fx.hidden}", lambda r, fx: {"action": "hide", "reason": "matrice"}
    ),
    "POST /api/moderation/accounts/{}": _suspend,
    "GET /api/me/notifications": get("/api/me/notifications"),
    "PUT /api/me/notifications": send("PUT", "/api/me/notifications", lambda r, fx: {"channels": ["app", "email"]}),
    "GET /api/push/key": get("/api/push/key"),
    "POST /api/me/push-subscriptions": send("POST", "/api/me/push-subscriptions", lambda r, fx: SUBSCRIPTION),
    "POST /api/sms/status": _sms_status,
    "GET /api/broadcasts/{}/receipts": get("/api/broadcasts/{fx.broadcast}/receipts"),
}


async def open_stream(url: str, path: str, token: str | None, origin: str | None = None) -> int:
    """101 when the socket opens, else the handshake's HTTP status."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        async with websockets.connect(url + path, additional_headers=headers, origin=origin, open_timeout=10):  # type: ignore[arg-type]
            return 101
    except websockets.InvalidStatus as exc:
        return exc.response.status_code


def expected_code(status: int, role: str) -> str | None:
    if status == 401:
        return "unauthenticated" if role == "none" else None
    if status == 403:
        return "not_validated" if role in ("pending", "rejected", "suspended") else "forbidden"
    return None


async def test_every_role_gets_exactly_what_the_table_says(tmp_path, server_factory) -> None:
    env = {
        **embedded_env(tmp_path),
        "DISPATCH_PROOFS_DIR": str(tmp_path / "proofs"),
        "DISPATCH_NOTIFY_SMS_SECRET": SMS_SECRET,
        "DISPATCH_NOTIFY_VAPID_KEY": str(tmp_path / "vapid.pem"),
    }
    server = server_factory(env)
    fx = await prepare(server.url, env)
    matrix = documented()
    assert set(CALLS) | {"WS /ws/ops", "WS /ws/resident"} == set(matrix)
    wrong = []
    for route, call in CALLS.items():
        for role in ROLES:
            async with httpx.AsyncClient(base_url=server.url, headers=fx.roster.headers(role), timeout=30) as http:
                r = await call(http, role, fx)
            want = matrix[route][role]
            code = "bad_signature" if route in SIGNED else expected_code(want, role)
            got_code = r.json().get("error", {}).get("code") if r.status_code >= 400 else None
            login_refused = route == "POST /api/auth/login" and role == "none"
            if r.status_code != want or (code is not None and not login_refused and got_code != code):
                wrong.append(f"{route} as {role}: {r.status_code} {got_code}, the table says {want} {code or ''}")
    for path in ("/ws/ops", "/ws/resident"):
        for role in ROLES:
            got = await open_stream(server.ws_url, path, fx.roster.token(role))
            if got != matrix[f"WS {path}"][role]:
                wrong.append(f"WS {path} as {role}: {got}, the table says {matrix[f'WS {path}'][role]}")
    assert wrong == [], "\n".join(wrong)
    await fx.roster.aclose()


async def test_a_foreign_origin_is_refused_on_every_cookie_write(tmp_path, server_factory) -> None:
    env = {
        **embedded_env(tmp_path),
        "DISPATCH_PROOFS_DIR": str(tmp_path / "proofs"),
        "DISPATCH_NOTIFY_SMS_SECRET": SMS_SECRET,
        "DISPATCH_NOTIFY_VAPID_KEY": str(tmp_path / "vapid.pem"),
    }
    server = server_factory(env)
    fx = await prepare(server.url, env)
    matrix = documented()
    writes = [r for r in CALLS if r.split(" ")[0] in ("POST", "PUT", "PATCH", "DELETE") and r not in NOT_CSRF_CHECKED]
    assert len(writes) >= 13
    for route in writes:
        # one allowed to do it (DELETE /api/me is called with a wrong password: 422, past the checks)
        role = next(r for r in ROLES if matrix[route][r] not in (401, 403))
        token = fx.roster.token(role)
        assert token is not None
        async with httpx.AsyncClient(
            base_url=server.url, cookies={"dispatch_session": token}, headers={"Origin": EVIL}, timeout=30
        ) as http:
            if route == "POST /api/auth/logout":  # the cookie of the session to end
                r = await http.post("/api/auth/logout")
            else:
                r = await CALLS[route](http, role, fx)
        assert (r.status_code, r.json()["error"]["code"]) == (403, "forbidden_origin"), (route, role, r.text)
    for path, role in (("/ws/ops", "dispatcher"), ("/ws/resident", "resident")):
        assert await open_stream(server.ws_url, path, fx.roster.token(role), origin=EVIL) == 403
        assert await open_stream(server.ws_url, path, fx.roster.token(role), origin=server.url) == 101
    await fx.roster.aclose()


@pytest.mark.parametrize("route", sorted(CALLS))
def test_each_call_names_a_documented_route(route: str) -> None:
    assert route in documented()
