"""Every bad input gets the right 4xx in the contract's error shape, never a
5xx, and nothing already accepted is lost. Against a real server."""

from __future__ import annotations

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from tests.e2e import CENTRE, PASSWORD, Accounts, embedded_env, server_factory
from tests.support import Server, login, stream

LAT, LON = CENTRE
GOOD = {"category": "fire", "lat": LAT, "lon": LON}


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bad")
    env = embedded_env(tmp)
    acc = Accounts(env)
    acc.add("resident", "res@example.org", LAT, LON)
    acc.add("dispatcher", "disp@example.org")
    from tests.conftest import free_port

    server = Server(free_port(), env, log_path=tmp / "server.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def tokens(live):
    res = await login(live.url, "res@example.org", PASSWORD)
    disp = await login(live.url, "disp@example.org", PASSWORD)
    yield res, disp
    await res.aclose()
    await disp.aclose()


def assert_error(r: httpx.Response, status: int, code: str, field: str | None = None) -> None:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code and body["error"]["message"]
    if field is not None:
        assert body["error"]["field"] == field


CASES = [
    ("lat out of range", {**GOOD, "lat": 91}, 422, "out_of_range", "lat"),
    ("lat below range", {**GOOD, "lat": -90.5}, 422, "out_of_range", "lat"),
    ("lon out of range", {**GOOD, "lon": 181}, 422, "out_of_range", "lon"),
    ("unknown category", {**GOOD, "category": "alien"}, 422, "unknown_category", "category"),
    ("text too long", {**GOOD, "text": "x" * 1001}, 422, "too_long", "text"),
    ("unknown field", {**GOOD, "author": 1}, 422, "unknown_field", "author"),
    ("lat as string", {**GOOD, "lat": "43.18"}, 422, "invalid_type", "lat"),
    ("lat as bool", {**GOOD, "lat": True}, 422, "invalid_type", "lat"),
    ("category as number", {**GOOD, "category": 3}, 422, "invalid_type", "category"),
    ("text as list", {**GOOD, "text": ["a"]}, 422, "invalid_type", "text"),
    ("client_id as number", {**GOOD, "client_id": 7}, 422, "invalid_type", "client_id"),
    ("missing lat", {"category": "fire", "lon": LON}, 422, "missing_field", "lat"),
    ("outside the city", {**GOOD, "lat": 48.85, "lon": 2.35}, 422, "outside_city", None),
]


@pytest.mark.parametrize("name,body,status,code,field", CASES, ids=[c[0] for c in CASES])
async def test_bad_alert_bodies(tokens, name, body, status, code, field) -> None:
    res, _ = tokens
    assert_error(await res.http.post("/api/alerts", json=body), status, code, field)


RAW_CASES = [
    ("malformed JSON", b'{"category": "fire", "lat": ', 400, "malformed_json"),
    ("NaN", b'{"category": "fire", "lat": NaN, "lon": 3.0}', 400, "malformed_json"),
    ("not an object", b"[1, 2]", 400, "not_an_object"),
    ("empty body", b"", 400, "malformed_json"),
    ("over 64 KiB", b'{"text": "' + b"x" * 70_000 + b'"}', 413, "body_too_large"),
]


@pytest.mark.parametrize("name,raw,status,code", RAW_CASES, ids=[c[0] for c in RAW_CASES])
async def test_bad_raw_bodies(tokens, name, raw, status, code) -> None:
    res, _ = tokens
    r = await res.http.post("/api/alerts", content=raw, headers={"Content-Type": "application/json"})
    assert_error(r, status, code)


async def test_bad_input_loses_nothing(tokens) -> None:
    res, disp = tokens
    ok = await res.http.post("/api/alerts", json={**GOOD, "text": "kept"})
    assert ok.status_code == 201
    for _, body, *_ in CASES:
        await res.http.post("/api/alerts", json=body)
    ids = [a["id"] for a in (await disp.http.get("/api/alerts", params={"limit": 5000})).json()]
    assert ok.json()["id"] in ids


async def test_missing_token_and_wrong_role(live, tokens) -> None:
    res, disp = tokens
    async with httpx.AsyncClient(base_url=live.url) as anon:
        assert_error(await anon.post("/api/alerts", json=GOOD), 401, "unauthenticated")
        assert_error(await anon.get("/api/alerts"), 401, "unauthenticated")
        bad = await anon.post("/api/alerts", json=GOOD, headers={"Authorization": "Bearer nope"})
        assert_error(bad, 401, "unauthenticated")
        assert_error(
            await anon.post("/api/auth/login", json={"email": "res@example.org", "password": "wrong"}),
            401,
            "bad_credentials",
        )
        assert_error(
            await anon.post("/api/auth/login", json={"email": "res@example.org"}), 422, "missing_field", "password"
        )
    assert_error(await disp.http.post("/api/alerts", json=GOOD), 403, "forbidden")
    alert = (await res.http.post("/api/alerts", json=GOOD)).json()
    assert_error(await res.http.patch(f"/api/alerts/{alert['id']}", json={"status": "acknowledged"}), 403, "forbidden")
    assert_error(
        await res.http.post("/api/broadcasts", json={"sectors": "all", "text": "x", "level": "info"}), 403, "forbidden"
    )


async def test_patch_errors(tokens) -> None:
    res, disp = tokens
    alert = (await res.http.post("/api/alerts", json=GOOD)).json()
    url = f"/api/alerts/{alert['id']}"
    assert (await disp.http.patch(url, json={"status": "resolved"})).status_code == 200
    assert_error(await disp.http.patch(url, json={"status": "new"}), 409, "forbidden_transition", "status")
    assert_error(await disp.http.patch(url, json={"colour": "red"}), 422, "unknown_field", "colour")
    assert_error(await disp.http.patch("/api/alerts/999999", json={"status": "acknowledged"}), 404, "not_found")
    assert_error(await disp.http.patch(url, json={"priority": "high"}), 422, "invalid_type", "priority")


async def test_broadcast_errors(tokens) -> None:
    _, disp = tokens
    assert_error(
        await disp.http.post("/api/broadcasts", json={"sectors": ["atlantis"], "text": "x", "level": "info"}),
        422,
        "unknown_sector",
    )
    assert_error(
        await disp.http.post("/api/broadcasts", json={"sectors": "all", "text": "x", "level": "loud"}),
        422,
        "unknown_level",
        "level",
    )
    assert_error(await disp.http.post("/api/broadcasts", json={"text": "x", "level": "info"}), 422, "missing_field")


async def test_unknown_route_and_query(live, tokens) -> None:
    _, disp = tokens
    assert_error(await disp.http.get("/api/nothing-here"), 404, "not_found")
    assert_error(await disp.http.get("/api/alerts", params={"colour": "red"}), 422, "unknown_field", "colour")
    assert_error(await disp.http.get("/api/alerts", params={"since": "yesterday"}), 422, "invalid_type", "since")


async def _handshake_status(url: str, **kwargs) -> int:
    with pytest.raises(InvalidStatus) as info:
        async with websockets.connect(url, open_timeout=5, **kwargs):
            pass
    return info.value.response.status_code


async def test_socket_handshake_checks(live, tokens) -> None:
    res, disp = tokens
    ws = live.ws_url
    assert await _handshake_status(ws + "/ws/ops") == 401
    assert await _handshake_status(ws + "/ws/ops", additional_headers={"Authorization": "Bearer nope"}) == 401
    assert await _handshake_status(ws + "/ws/ops", additional_headers={"Authorization": f"Bearer {res.token}"}) == 403
    assert (
        await _handshake_status(ws + "/ws/resident", additional_headers={"Authorization": f"Bearer {disp.token}"})
        == 403
    )
    foreign = {"Authorization": f"Bearer {disp.token}"}
    assert await _handshake_status(ws + "/ws/ops", additional_headers=foreign, origin="https://evil.example") == 403
    # the server's own origin and no origin at all are accepted
    async with stream(ws, "/ws/ops", disp.token, origin=live.url):
        pass
    async with stream(ws, "/ws/ops", disp.token):
        pass


async def test_cookie_writes_need_our_origin(live) -> None:
    async with httpx.AsyncClient(base_url=live.url) as browser:
        r = await browser.post("/api/auth/login", json={"email": "res@example.org", "password": PASSWORD})
        assert r.status_code == 200 and "dispatch_session" in r.cookies
        assert "httponly" in r.headers["set-cookie"].lower()
        evil = await browser.post("/api/alerts", json=GOOD, headers={"Origin": "https://evil.example"})
        assert_error(evil, 403, "forbidden_origin")
        ours = await browser.post("/api/alerts", json=GOOD, headers={"Origin": live.url})
        assert ours.status_code == 201
