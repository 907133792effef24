"""Limits against real servers (docs/reference.md, "Limits"): failed logins
lock the account and throttle the address, on one server and across servers
that share PostgreSQL and Redis; alerts per resident, across two workers;
streams per account. Each answers 429 `rate_limited` with Retry-After."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from tests.e2e import CENTRE, PASSWORD, Accounts, embedded_env, production_env, server_factory
from tests.support import login, stream

LAT, LON = CENTRE
FRESH = {"Connection": "close"}  # a new connection each time: with several workers, any of them answers


@pytest.fixture(params=["embedded", "production"])
def env(request, tmp_path) -> dict[str, str]:
    if request.param == "embedded":
        return embedded_env(tmp_path)
    return production_env(
        request.getfixturevalue("pg_url"), request.getfixturevalue("redis_url"), request.getfixturevalue("bus_prefix")
    )


def assert_limited(r: httpx.Response) -> int:
    assert r.status_code == 429, (r.status_code, r.text)
    assert r.json()["error"]["code"] == "rate_limited"
    return int(r.headers["retry-after"])


async def _login(url: str, email: str, password: str, source: str | None = None) -> httpx.Response:
    transport = httpx.AsyncHTTPTransport(local_address=source) if source else None
    async with httpx.AsyncClient(base_url=url, transport=transport, timeout=30) as http:
        return await http.post("/api/auth/login", json={"email": email, "password": password}, headers=FRESH)


async def test_an_account_locks_after_its_failures_even_for_the_right_password(env, server_factory) -> None:
    env = {**env, "DISPATCH_LIMITS_LOGIN_FAILURES_PER_ACCOUNT": "3", "DISPATCH_LIMITS_LOCKOUT_MINUTES": "0.05"}
    acc = Accounts(env)
    acc.add("resident", "lea@example.org", LAT, LON)
    acc.add("resident", "other@example.org", LAT, LON)
    server = server_factory(env)
    for _ in range(3):
        assert (await _login(server.url, "lea@example.org", "wrong password!")).status_code == 401
    started = time.monotonic()
    locked = await _login(server.url, "lea@example.org", PASSWORD)
    assert time.monotonic() - started >= 0.9  # a refusal is answered after a pause
    assert 1 <= assert_limited(locked) <= 3
    # the same for an e-mail without an account: a lock tells nothing
    for _ in range(3):
        assert (await _login(server.url, "nobody@example.org", "wrong password!")).status_code == 401
    assert_limited(await _login(server.url, "nobody@example.org", "wrong password!"))
    # another account from the same address is not locked
    assert (await _login(server.url, "other@example.org", PASSWORD)).status_code == 200
    await asyncio.sleep(3.2)  # limits.lockout_minutes = 3 s
    assert (await _login(server.url, "lea@example.org", PASSWORD)).status_code == 200


async def test_an_address_that_fails_too_often_is_throttled(tmp_path, server_factory) -> None:
    env = {**embedded_env(tmp_path), "DISPATCH_LIMITS_LOGIN_FAILURES_PER_ADDRESS": "4"}
    Accounts(env).add("dispatcher", "dan@example.org")
    server = server_factory(env)
    for i in range(4):  # four different e-mails: no account is locked, the address is
        assert (await _login(server.url, f"guess{i}@example.org", "wrong password!", "127.0.0.3")).status_code == 401
    assert_limited(await _login(server.url, "dan@example.org", PASSWORD, "127.0.0.3"))
    assert (await _login(server.url, "dan@example.org", PASSWORD, "127.0.0.4")).status_code == 200


async def test_failures_on_one_server_count_on_the_other(pg_url, redis_url, bus_prefix, server_factory) -> None:
    env = {**production_env(pg_url, redis_url, bus_prefix), "DISPATCH_LIMITS_LOGIN_FAILURES_PER_ACCOUNT": "4"}
    Accounts(env).add("supervisor", "sam@example.org")
    a, b = server_factory(env), server_factory(env)
    for server in (a, b, a, b):
        assert (await _login(server.url, "sam@example.org", "wrong password!")).status_code == 401
    for server in (a, b):
        assert_limited(await _login(server.url, "sam@example.org", PASSWORD))


async def _post_alerts(url: str, token: str, client_ids: list[str | None]) -> list[httpx.Response]:
    out = []
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        for cid in client_ids:
            body = {"category": "vandalism", "lat": LAT, "lon": LON, **({"client_id": cid} if cid else {})}
            out.append(await http.post("/api/alerts", json=body, headers=FRESH))
    return out


async def test_alerts_per_resident_across_two_workers(pg_url, redis_url, bus_prefix, server_factory) -> None:
    env = {**production_env(pg_url, redis_url, bus_prefix), "DISPATCH_LIMITS_ALERTS_PER_WINDOW": "4"}
    acc = Accounts(env)
    acc.add("resident", "rose@example.org", LAT, LON)
    acc.add("resident", "remi@example.org", LAT, LON)
    server = server_factory(env, workers=2)
    rose = await login(server.url, "rose@example.org", PASSWORD)
    # a retried client_id returns the first alert and counts once
    got = await _post_alerts(server.url, rose.token, ["a", "a", None, "b", "a", "c", None, None, "d", "a"])
    assert [r.status_code for r in got] == [201, 200, 201, 201, 200, 201, 429, 429, 429, 200]
    assert got[1].json()["id"] == got[0].json()["id"] == got[9].json()["id"]
    assert 1 <= assert_limited(got[6]) <= 600
    # twelve fresh connections, spread over both workers: still refused
    assert {r.status_code for r in await _post_alerts(server.url, rose.token, [None] * 12)} == {429}
    remi = await login(server.url, "remi@example.org", PASSWORD)  # the limit is per resident
    assert [r.status_code for r in await _post_alerts(server.url, remi.token, [None] * 4)] == [201] * 4
    await rose.aclose()
    await remi.aclose()


async def test_the_alert_window_ends(tmp_path, server_factory) -> None:
    env = {**embedded_env(tmp_path), "DISPATCH_LIMITS_ALERTS_PER_WINDOW": "2", "DISPATCH_LIMITS_WINDOW_MINUTES": "0.05"}
    Accounts(env).add("resident", "ana@example.org", LAT, LON)
    server = server_factory(env)
    ana = await login(server.url, "ana@example.org", PASSWORD)
    assert [r.status_code for r in await _post_alerts(server.url, ana.token, [None] * 3)] == [201, 201, 429]
    await asyncio.sleep(3.1)
    assert [r.status_code for r in await _post_alerts(server.url, ana.token, [None])] == [201]
    await ana.aclose()


async def _refused(url: str, path: str, token: str) -> tuple[int, str, str | None]:
    with pytest.raises(InvalidStatus) as info:
        async with stream(url, path, token):
            pass
    resp = info.value.response
    return resp.status_code, resp.body.decode(), resp.headers.get("Retry-After")


async def test_streams_per_account(tmp_path, server_factory) -> None:
    env = {**embedded_env(tmp_path), "DISPATCH_LIMITS_SOCKETS_PER_ACCOUNT": "2"}
    acc = Accounts(env)
    acc.add("resident", "res@example.org", LAT, LON)
    acc.add("dispatcher", "disp@example.org")
    server = server_factory(env)
    res = await login(server.url, "res@example.org", PASSWORD)
    disp = await login(server.url, "disp@example.org", PASSWORD)
    other = await login(server.url, "disp@example.org", PASSWORD)  # a second session of the same account
    ws = server.ws_url
    async with stream(ws, "/ws/resident", res.token), stream(ws, "/ws/resident", res.token):
        status, body, retry = await _refused(ws, "/ws/resident", res.token)
        assert status == 429 and '"rate_limited"' in body and retry is not None and int(retry) >= 1
        async with stream(ws, "/ws/ops", disp.token):  # another account is not affected
            pass
    async with stream(ws, "/ws/resident", res.token):  # the two closed: room again
        pass
    async with stream(ws, "/ws/ops", disp.token), stream(ws, "/ws/ops", disp.token):
        status, _, _ = await _refused(ws, "/ws/ops", other.token)  # counted per account, not per session
        assert status == 429
    for c in (res, disp, other):
        await c.aclose()
