"""Issue 20, minimisation, through real servers: every GET route of the
Roles table that may carry personal data answers `Cache-Control: no-store`
(whatever its status, for every kind of caller), the public facts of the
town may be cached; the session cookie is HttpOnly, SameSite=Strict, Path=/,
named `dispatch_session` without Secure over http, and `__Host-` with Secure
over https, where serve terminates TLS itself (server.tls_cert/tls_key,
uvicorn's own options) with a self-signed certificate the test makes, and a
browser's way of logging in (the cookie alone) works."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.conftest import free_port
from tests.e2e import CENTRE, PASSWORD, Accounts, embedded_env, server_factory
from tests.test_role_matrix import documented
from tests.tls import self_signed

__all__ = ["server_factory"]

# what a cache may keep: nobody's data (dispatch.http.pages.may_cache)
PUBLIC = {
    "/healthz",
    "/api/sectors",
    "/api/categories",
    "/static/app.css",
    "/vendor/leaflet/leaflet.js",
    "/vendor/chart.js/chart.umd.min.js",
    # the service worker: public code, revalidated on every load (no-cache)
    "/sw.js",
}
# answers that carry personal data, each checked to be a 200 as well
PERSONAL = {
    "resident": [
        "/api/me",
        "/session",
        "/api/alerts",
        "/api/alerts/{alert}",
        "/api/me/export",
    ],
    "dispatcher": [
        "/api/alerts",
        "/api/alerts/{alert}",
        "/api/incidents",
        "/api/incidents/{incident}",
        "/api/handover",
        "/ops/hexagons",
        "/api/stats",
        "/api/stats.csv",
    ],
    "moderator": ["/api/moderation/residents?status=validated", "/api/moderation/flags"],
    "admin": ["/api/audit", "/api/audit?format=csv", "/api/admin/residents/{resident}/export"],
}


def cookie_attributes(resp: httpx.Response) -> tuple[str, set[str]]:
    """The session cookie's name and its attributes (lowercased, values of
    Path and SameSite kept), from the one Set-Cookie of the answer."""
    (header,) = resp.headers.get_list("set-cookie")
    first, *attrs = (part.strip() for part in header.split(";"))
    return first.partition("=")[0], {a.lower() for a in attrs if not a.lower().startswith(("max-age", "expires"))}


async def _seed(url: str, env: dict[str, str]) -> dict[str, Any]:
    """An account of each role, logged in by Bearer token; one alert."""
    accounts = Accounts(env)
    ids: dict[str, Any] = {"resident": accounts.add("resident", "resident@example.org", *CENTRE)}
    for role in ("dispatcher", "moderator", "admin"):
        accounts.add(role, f"{role}@example.org")
    tokens = {}
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        for role in PERSONAL:
            r = await http.post("/api/auth/login", json={"email": f"{role}@example.org", "password": PASSWORD})
            assert r.status_code == 200, r.text
            assert r.headers["cache-control"] == "no-store", "the token itself is not cached"
            tokens[role] = r.json()["token"]
        auth = {"authorization": f"Bearer {tokens['resident']}"}
        body = {"category": "theft", "lat": CENTRE[0], "lon": CENTRE[1], "text": "Vol à l'arraché"}
        r = await http.post("/api/alerts", json=body, headers=auth)
        assert r.status_code == 201, r.text
    ids.update(alert=r.json()["id"], incident=r.json()["incident"], cell=r.json()["cell"], tokens=tokens)
    return ids


async def test_no_store_on_personal_data_public_facts_cacheable(server_factory: Any, tmp_path: Path) -> None:
    env = embedded_env(tmp_path)
    server = server_factory(env)
    ids = await _seed(server.url, env)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        for role, paths in PERSONAL.items():
            auth = {"authorization": f"Bearer {ids['tokens'][role]}"}
            for path in paths:
                r = await http.get(path.format(**ids), headers=auth)
                assert r.status_code == 200, (role, path, r.text)
                assert r.headers.get("cache-control") == "no-store", (role, path)
        # cell outlines are public geometry (what residents see of an alert is its cell):
        # the browser alone may keep them, never a shared cache
        r = await http.get(
            f"/map/cells?ids={ids['cell']}", headers={"authorization": f"Bearer {ids['tokens']['resident']}"}
        )
        assert r.status_code == 200 and r.headers["cache-control"] == "private, max-age=86400"
        # every GET of the Roles table, for each caller (and nobody), whatever it answers
        gets = [route.partition(" ")[2] for route in documented() if route.startswith("GET ")]
        for path in gets:
            target = (
                path.replace("/static/{}", "/static/app.css")
                .replace("/vendor/leaflet/{}", "/vendor/leaflet/leaflet.js")
                .replace("/vendor/chart.js/{}", "/vendor/chart.js/chart.umd.min.js")
            )
            target = target.replace("{}", str(ids["alert"]))
            for token in (None, *ids["tokens"].values()):
                r = await http.get(target, headers={"authorization": f"Bearer {token}"} if token else {})
                assert r.status_code < 500, (target, r.status_code)
                cached = "no-store" not in r.headers.get("cache-control", "")
                assert cached == (target in PUBLIC), (target, r.status_code, r.headers.get("cache-control"))


async def test_session_cookie_over_http(server_factory: Any, tmp_path: Path) -> None:
    env = embedded_env(tmp_path)
    server = server_factory(env)
    Accounts(env).add("resident", "resident@example.org", *CENTRE)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        r = await http.post("/api/auth/login", json={"email": "resident@example.org", "password": PASSWORD})
        assert r.status_code == 200, r.text
        name, attrs = cookie_attributes(r)
        # a browser refuses a __Host- cookie, and any Secure one, from http://127.0.0.1
        assert name == "dispatch_session"
        assert attrs == {"httponly", "samesite=strict", "path=/"}, attrs
        me = await http.get("/api/me")  # the cookie alone, as a page sends it
        assert me.status_code == 200 and me.headers["cache-control"] == "no-store"


async def test_session_cookie_over_https(server_factory: Any, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    port = free_port()
    env = {
        **embedded_env(tmp_path),
        "DISPATCH_SERVER_TLS_CERT": str(cert),
        "DISPATCH_SERVER_TLS_KEY": str(key),
        "DISPATCH_SERVER_PUBLIC_URL": f"https://127.0.0.1:{port}",
    }
    server = server_factory(env, port=port, ca=cert)
    assert server.url.startswith("https://")
    Accounts(env).add("resident", "resident@example.org", *CENTRE)
    async with httpx.AsyncClient(base_url=server.url, verify=server.verify, timeout=30) as http:
        r = await http.post("/api/auth/login", json={"email": "resident@example.org", "password": PASSWORD})
        assert r.status_code == 200, r.text
        name, attrs = cookie_attributes(r)
        # __Host-: Secure, Path=/ and no Domain, so no other host or path can set or shadow it
        assert name == "__Host-dispatch_session"
        assert attrs == {"httponly", "samesite=strict", "path=/", "secure"}, attrs
        assert not http.headers.get("authorization")
        me = await http.get("/api/me")  # the cookie alone
        assert me.status_code == 200, me.text
        assert me.json()["user_id"] == r.json()["user_id"] and me.headers["cache-control"] == "no-store"
        export = await http.get("/api/me/export")
        assert export.status_code == 200 and export.headers["cache-control"] == "no-store"
        page = await http.get("/session")  # the pages' own check of who is logged in
        assert page.status_code == 200 and page.json()["user_id"] == r.json()["user_id"]
        # the plain name is not read over https: the session is the __Host- cookie's alone
        token = http.cookies["__Host-dispatch_session"]
        async with httpx.AsyncClient(base_url=server.url, verify=server.verify, timeout=30) as other:
            assert (await other.get("/api/me", headers={"cookie": f"dispatch_session={token}"})).status_code == 401
            assert (
                await other.get("/api/me", headers={"cookie": f"__Host-dispatch_session={token}"})
            ).status_code == 200
        # a change with the cookie, from the configured https origin; the cookie is cleared the same way
        out = await http.post("/api/auth/logout", headers={"origin": server.url})
        assert out.status_code == 204, out.text
        name, attrs = cookie_attributes(out)
        assert name == "__Host-dispatch_session" and {"secure", "path=/"} <= attrs
        assert (await http.get("/api/me")).status_code == 401
