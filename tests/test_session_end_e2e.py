"""Ending a session ends it everywhere at once: the store forgets it, every
worker's session cache too (the session.ended event on the control channel),
and its sockets close, whichever worker they are on."""

from __future__ import annotations

import asyncio
import time

import httpx
import websockets

from tests.e2e import CENTRE, PASSWORD, Accounts, embedded_env, production_env, server_factory
from tests.support import closed_with, login, stream


async def test_logout_ends_the_session_on_every_worker(pg_url, redis_url, bus_prefix, server_factory) -> None:
    env = production_env(pg_url, redis_url, bus_prefix)
    Accounts(env).add("resident", "ines@example.org", *CENTRE)
    a = server_factory(env)
    b = server_factory(env)
    first = await login(a.url, "ines@example.org", PASSWORD)
    other = await login(a.url, "ines@example.org", PASSWORD)
    async with (
        stream(a.ws_url, "/ws/resident", first.token) as on_a,
        stream(b.ws_url, "/ws/resident", first.token) as on_b,
        stream(b.ws_url, "/ws/resident", other.token) as kept,
    ):
        # both workers have the session cached
        for server in (a, b):
            r = httpx.get(server.url + "/api/me", headers={"Authorization": f"Bearer {first.token}"})
            assert r.status_code == 200
        t0 = time.monotonic()
        r = httpx.post(a.url + "/api/auth/logout", headers={"Authorization": f"Bearer {first.token}"})
        assert r.status_code == 204
        codes = await asyncio.gather(closed_with(on_a, 1.0), closed_with(on_b, 1.0))
        assert codes == [4001, 4001] and time.monotonic() - t0 < 1.5
        for server in (a, b):  # refused at once, not after the cache's 10 s
            r = httpx.get(server.url + "/api/me", headers={"Authorization": f"Bearer {first.token}"})
            assert r.status_code == 401, server.url
        assert await closed_with(kept, 0.3) is None  # another session of the same account lives on
        r = httpx.get(b.url + "/api/me", headers={"Authorization": f"Bearer {other.token}"})
        assert r.status_code == 200
    await first.aclose()
    await other.aclose()


async def test_logout_clears_the_cookie_and_refuses_the_token(tmp_path, server_factory) -> None:
    env = embedded_env(tmp_path)
    Accounts(env).add("dispatcher", "d@example.org")
    server = server_factory(env)
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.post("/api/auth/login", json={"email": "d@example.org", "password": PASSWORD})
        token = r.json()["token"]
        assert (await http.get("/api/me")).status_code == 200  # the cookie
        async with stream(server.ws_url, "/ws/ops", token) as ops:
            r = await http.post("/api/auth/logout", headers={"Origin": server.url})
            assert r.status_code == 204
            assert "dispatch_session=" in r.headers["set-cookie"] and "Max-Age=0" in r.headers["set-cookie"]
            assert await closed_with(ops, 1.0) == 4001
        assert (await http.get("/api/me", headers={"Authorization": f"Bearer {token}"})).status_code == 401
        assert (await http.post("/api/auth/logout", headers={"Authorization": f"Bearer {token}"})).status_code == 401
