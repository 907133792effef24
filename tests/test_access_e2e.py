"""Who may use a session, and from where, against real servers: the desk
roles' idle timeout, the wall screen's read-only session without one,
logout on a two-worker server, and the Origin check against configured
origins (never the Host header the client writes)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from tests.e2e import CENTRE, PASSWORD, Accounts, embedded_env, production_env, server_factory
from tests.support import login, stream

LAT, LON = CENTRE
ALERT = {"category": "fire", "lat": LAT, "lon": LON}
EVIL = "https://evil.example"


async def _handshake(url: str, **kwargs) -> int:
    try:
        async with websockets.connect(url, open_timeout=5, **kwargs):
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


async def test_a_desk_session_expires_unused_a_wall_session_does_not(tmp_path, server_factory) -> None:
    env = {**embedded_env(tmp_path), "DISPATCH_SERVER_IDLE_MINUTES": "0.05"}  # 3 s
    acc = Accounts(env)
    acc.add("supervisor", "sup@example.org")
    acc.add("resident", "res@example.org", LAT, LON)
    server = server_factory(env)
    desk = await login(server.url, "sup@example.org", PASSWORD)
    res = await login(server.url, "res@example.org", PASSWORD)
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.post("/api/auth/login", json={"email": "sup@example.org", "password": PASSWORD, "wall": True})
        assert r.status_code == 200
        wall = r.json()["token"]
        assert (await http.get("/api/me")).json()["wall"] is True  # the cookie is the wall's
    for _ in range(5):  # in use: never idle for 3 s, though it lives longer than that
        assert (await desk.http.get("/api/me")).status_code == 200
        await asyncio.sleep(1.0)
    await asyncio.sleep(3.5)
    r = await desk.http.get("/api/incidents")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
    assert (await res.http.get("/api/me")).status_code == 200  # residents have no idle timeout
    walled = {"Authorization": f"Bearer {wall}"}
    async with httpx.AsyncClient(base_url=server.url, headers=walled) as http:
        assert (await http.get("/api/incidents")).status_code == 200
        assert "wall" not in (await desk.http.get("/api/me")).text
        r = await http.post("/api/units", json={"name": "Alpha"})  # read-only
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
        async with stream(server.ws_url, "/ws/ops", wall):
            pass
        assert (await http.post("/api/auth/logout")).status_code == 204  # a wall may log out
        assert (await http.get("/api/incidents")).status_code == 401
    r = httpx.post(
        server.url + "/api/auth/login", json={"email": "res@example.org", "password": PASSWORD, "wall": True}
    )
    assert r.status_code == 403  # a wall session is for staff
    r = httpx.post(server.url + "/api/auth/login", json={"email": "res@example.org", "password": PASSWORD, "wall": 1})
    assert r.status_code == 422 and r.json()["error"]["field"] == "wall"
    await desk.aclose()
    await res.aclose()


async def test_logout_on_a_two_worker_server(pg_url, redis_url, bus_prefix, server_factory) -> None:
    env = production_env(pg_url, redis_url, bus_prefix)
    Accounts(env).add("dispatcher", "d@example.org")
    server = server_factory(env, workers=2)
    disp = await login(server.url, "d@example.org", PASSWORD)
    auth = {"Authorization": f"Bearer {disp.token}", "Connection": "close"}
    for _ in range(8):  # fresh connections: both workers cache the session
        assert httpx.get(server.url + "/api/me", headers=auth).status_code == 200
    assert httpx.post(server.url + "/api/auth/logout", headers=auth).status_code == 204
    # at once, on whichever worker answers: not after the cache's 10 s
    assert {httpx.get(server.url + "/api/me", headers=auth).status_code for _ in range(12)} == {401}
    await disp.aclose()


async def test_cookie_writes_and_handshakes_need_a_configured_origin(tmp_path, server_factory) -> None:
    env = embedded_env(tmp_path)
    acc = Accounts(env)
    acc.add("resident", "res@example.org", LAT, LON)
    acc.add("dispatcher", "disp@example.org")
    server = server_factory(env)
    disp = await login(server.url, "disp@example.org", PASSWORD)
    port = server.port
    async with httpx.AsyncClient(base_url=server.url) as browser:
        r = await browser.post("/api/auth/login", json={"email": "res@example.org", "password": PASSWORD})
        assert r.status_code == 200
        # the attacker's page names its own host in Host too: once that passed the check
        spoofed = {"Origin": EVIL, "Host": "evil.example"}
        r = await browser.post("/api/alerts", json=ALERT, headers=spoofed)
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden_origin"
        for ours in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):  # both names of the address served
            assert (await browser.post("/api/alerts", json=ALERT, headers={"Origin": ours})).status_code == 201
        assert (await browser.post("/api/alerts", json=ALERT)).status_code == 201  # no Origin: not a browser
    bearer = {"Authorization": f"Bearer {disp.token}"}
    ws = server.ws_url + "/ws/ops"
    assert await _handshake(ws, additional_headers={**bearer, "Host": "evil.example"}, origin=EVIL) == 403
    assert await _handshake(ws, additional_headers=bearer, origin=f"http://localhost:{port}") == 101
    assert await _handshake(ws, additional_headers=bearer, origin=f"http://127.0.0.1:{port + 1}") == 403
    await disp.aclose()


@pytest.mark.parametrize(
    ("key", "value", "allowed", "refused"),
    [
        ("DISPATCH_SERVER_PUBLIC_URL", "https://police.example.fr/", "https://police.example.fr", "http://127.0.0.1"),
        ("DISPATCH_SERVER_ALLOWED_ORIGINS", "https://a.example,https://b.example", "https://b.example", EVIL),
    ],
)
async def test_configured_origins_replace_the_derived_ones(tmp_path, server_factory, key, value, allowed, refused):
    env = {**embedded_env(tmp_path), key: value}
    Accounts(env).add("dispatcher", "disp@example.org")
    server = server_factory(env)
    disp = await login(server.url, "disp@example.org", PASSWORD)
    bearer = {"Authorization": f"Bearer {disp.token}"}
    ws = server.ws_url + "/ws/ops"
    assert await _handshake(ws, additional_headers=bearer, origin=allowed) == 101
    if refused.startswith("http://127.0.0.1"):
        refused = f"http://127.0.0.1:{server.port}"  # the derived origin no longer passes
    assert await _handshake(ws, additional_headers=bearer, origin=refused) == 403
    await disp.aclose()
