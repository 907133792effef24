"""Moderation against real servers, on both stores (with PostgreSQL and
Redis, two workers: the action on one, the sockets on the other): flags,
hiding an alert (alert.removed live to those who had it, gone from their
lists and replays, still there for staff), suspending an account (its
sockets close with 4003 at once, its token is refused), and a proxy account
that receives exactly what its home receives."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.e2e import CENTRE, PASSWORD, Accounts, embedded_env, production_env, server_factory
from tests.joining_kit import decide, join
from tests.support import closed_with, drain, login, next_message, stream

NEAR = (CENTRE[0] + 0.001, CENTRE[1])
PLAGE = (43.1600, 3.1450)  # another sector, kilometres away
OTHER = (CENTRE[0] - 0.003, CENTRE[1])  # 445 m from NEAR, in the next sector


@pytest.fixture(params=["sqlite", "postgres"])
def setup(request: pytest.FixtureRequest, tmp_path: Path, server_factory: Any) -> tuple[dict[str, str], list[Any]]:
    """(env, servers): one embedded server, or two workers on PostgreSQL and Redis."""
    if request.param == "sqlite":
        env = {**embedded_env(tmp_path), "DISPATCH_PROOFS_DIR": str(tmp_path / "proofs")}
        return env, [lambda: server_factory(env)]
    env = production_env(
        request.getfixturevalue("pg_url"), request.getfixturevalue("redis_url"), request.getfixturevalue("bus_prefix")
    )
    env["DISPATCH_PROOFS_DIR"] = str(tmp_path / "proofs")
    return env, [lambda: server_factory(env), lambda: server_factory(env)]


def start(setup: tuple[dict[str, str], list[Any]]) -> tuple[dict[str, str], Any, Any]:
    """(env, the server moderators act on, the server sockets listen on)."""
    env, makers = setup
    servers = [m() for m in makers]
    return env, servers[0], servers[-1]


def error_code(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["error"]["code"]


async def test_hide_removes_the_alert_for_residents_and_keeps_it_for_staff(setup) -> None:
    env, acting, listening = start(setup)
    accounts = Accounts(env)
    accounts.add("resident", "author@example.org", *CENTRE)
    accounts.add("resident", "near@example.org", *NEAR)
    accounts.add("resident", "far@example.org", *PLAGE)
    accounts.add("dispatcher", "d@example.org")
    accounts.add("moderator", "m@example.org")
    author, near, far, disp, mod = [
        await login(acting.url, f"{n}@example.org", PASSWORD) for n in ("author", "near", "far", "d", "m")
    ]
    async with (
        stream(listening.ws_url, "/ws/resident", near.token) as near_ws,
        stream(acting.ws_url, "/ws/resident", author.token) as author_ws,
        stream(listening.ws_url, "/ws/resident", far.token) as far_ws,
        stream(listening.ws_url, "/ws/ops", disp.token) as ops,
    ):
        alert = (await author.post_alert(category="suspicious", lat=CENTRE[0], lon=CENTRE[1], text="Propos")).json()
        seen = await next_message(near_ws, 3, "alert.nearby")
        assert seen["data"]["id"] == alert["id"]
        await next_message(author_ws, 3, "alert.nearby")
        await next_message(ops, 3, "alert.created")
        # flags: a resident who can see it, once
        r = await near.http.post(f"/api/alerts/{alert['id']}/flags", json={"reason": "insultant"})
        assert r.status_code == 201 and r.json()["alert"] == alert["id"], r.text
        assert error_code(await near.http.post(f"/api/alerts/{alert['id']}/flags", json={"reason": "x"})) == (
            409,
            "duplicate_flag",
        )
        assert (await far.http.post(f"/api/alerts/{alert['id']}/flags", json={"reason": "x"})).status_code == 404
        assert (await disp.http.post(f"/api/alerts/{alert['id']}/flags", json={"reason": "x"})).status_code == 403
        flags = (await mod.http.get("/api/moderation/flags")).json()
        assert [f["alert"]["id"] for f in flags] == [alert["id"]] and flags[0]["alert"]["author"] == author.user_id
        assert [f["reason"] for f in flags[0]["flags"]] == ["insultant"] and "lat" not in flags[0]["alert"]

        t0 = time.monotonic()
        r = await mod.http.post(f"/api/moderation/alerts/{alert['id']}", json={"action": "hide", "reason": "injures"})
        assert r.status_code == 200 and r.json()["hidden"] is True, r.text
        for ws in (near_ws, author_ws):
            removed = await next_message(ws, 1.0, "alert.removed")
            assert removed["data"] == {"id": alert["id"]} and removed["seq"] > seen["seq"]
        assert time.monotonic() - t0 < 1.0
        updated = await next_message(ops, 1.0, "alert.updated")
        assert updated["data"]["id"] == alert["id"] and updated["data"]["hidden"] is True
        assert await drain(far_ws) == []  # it never had it
    assert (await mod.http.get("/api/moderation/flags")).json() == []  # acted on
    for who in (near, author):
        assert alert["id"] not in [a["id"] for a in (await who.http.get("/api/alerts")).json()]
        assert (await who.http.get(f"/api/alerts/{alert['id']}")).status_code == 404
    async with stream(listening.ws_url, "/ws/resident", near.token, since=0) as replay:
        got = await drain(replay, 0.5)
    assert [m["data"]["id"] for m in got if m["type"] == "alert.nearby"] == []
    assert [m["data"] for m in got if m["type"] == "alert.removed"] == [{"id": alert["id"]}]
    staff = (await disp.http.get(f"/api/alerts/{alert['id']}")).json()
    assert staff["hidden"] is True and staff["hide_reason"] == "injures" and staff["author"] == author.user_id
    assert alert["id"] in [a["id"] for a in (await disp.http.get("/api/alerts")).json()]

    r = await mod.http.post(f"/api/moderation/alerts/{alert['id']}", json={"action": "restore", "reason": "erreur"})
    assert r.status_code == 200 and r.json()["hidden"] is False
    assert alert["id"] in [a["id"] for a in (await near.http.get("/api/alerts")).json()]
    async with stream(listening.ws_url, "/ws/resident", near.token, since=0) as replay:
        got = await drain(replay, 0.5)
    assert [m["data"]["id"] for m in got if m["type"] == "alert.nearby"] == [alert["id"]]
    assert [m for m in got if m["type"] == "alert.removed"] == []
    for c in (author, near, far, disp, mod):
        await c.aclose()


async def test_suspension_closes_the_sockets_with_4003_and_refuses_the_token(setup) -> None:
    env, acting, listening = start(setup)
    accounts = Accounts(env)
    rid = accounts.add("resident", "r@example.org", *CENTRE)
    did = accounts.add("dispatcher", "d@example.org")
    accounts.add("moderator", "m@example.org")
    aid = accounts.add("admin", "a@example.org")
    resident, disp, mod, admin = [await login(acting.url, f"{n}@example.org", PASSWORD) for n in "rdma"]
    body = {"action": "suspend", "reason": "messages abusifs"}
    async with (
        stream(listening.ws_url, "/ws/resident", resident.token) as on_listening,
        stream(acting.ws_url, "/ws/resident", resident.token) as on_acting,
        stream(listening.ws_url, "/ws/ops", disp.token) as ops,
    ):
        for server in (acting, listening):  # the session is in both workers' caches
            assert (
                httpx.get(server.url + "/api/me", headers={"Authorization": f"Bearer {resident.token}"}).status_code
                == 200
            )
        t0 = time.monotonic()
        r = await mod.http.post(f"/api/moderation/accounts/{rid}", json=body)
        assert r.status_code == 200 and r.json()["status"] == "suspended", r.text
        codes = await asyncio.gather(closed_with(on_listening, 1.0), closed_with(on_acting, 1.0))
        assert codes == [4003, 4003] and time.monotonic() - t0 < 1.0
        for server in (acting, listening):
            r = httpx.get(server.url + "/api/me", headers={"Authorization": f"Bearer {resident.token}"})
            assert r.status_code == 401, server.url
        # a moderator acts on residents only; an admin on staff too, never on itself
        assert error_code(await mod.http.post(f"/api/moderation/accounts/{did}", json=body)) == (403, "forbidden")
        assert error_code(await admin.http.post(f"/api/moderation/accounts/{aid}", json=body)) == (403, "forbidden")
        assert (await admin.http.post(f"/api/moderation/accounts/{did}", json=body)).status_code == 200
        assert await closed_with(ops, 1.0) == 4003
    again = await login(listening.url, "r@example.org", PASSWORD)  # may log in, and read where it stands
    me = (await again.http.get("/api/me")).json()
    assert (me["status"], me["reason"]) == ("suspended", "messages abusifs")
    assert error_code(await again.post_alert(category="theft", lat=CENTRE[0], lon=CENTRE[1])) == (403, "not_validated")
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with stream(listening.ws_url, "/ws/resident", again.token):
            pass
    assert refused.value.response.status_code == 403
    r = await mod.http.post(f"/api/moderation/accounts/{rid}", json=body)
    assert error_code(r) == (409, "forbidden_transition")  # suspended already
    r = await admin.http.post(f"/api/moderation/accounts/{rid}", json={"action": "reinstate", "reason": "excuses"})
    assert r.status_code == 200 and r.json()["status"] == "validated"
    assert (await again.post_alert(category="theft", lat=CENTRE[0], lon=CENTRE[1])).status_code == 201
    for c in (resident, disp, mod, admin, again):
        await c.aclose()


async def test_a_proxy_receives_exactly_what_its_home_receives(setup) -> None:
    env, acting, listening = start(setup)
    accounts = Accounts(env)
    accounts.add("resident", "home@example.org", *NEAR)
    accounts.add("resident", "other@example.org", *OTHER)
    accounts.add("dispatcher", "d@example.org")
    accounts.add("moderator", "m@example.org")
    mod = await login(acting.url, "m@example.org", PASSWORD)
    async with httpx.AsyncClient(base_url=acting.url, timeout=30) as http:
        r = await join(http, "fils@example.org", lat=NEAR[0], lon=NEAR[1], on_behalf_of="Mme Martin, sa mère")
        proxy_id = r.json()["id"]
        await join(http, "waiting@example.org", lat=NEAR[0], lon=NEAR[1])
    await decide(mod, proxy_id, "validate")
    home, other, disp = [await login(acting.url, f"{n}@example.org", PASSWORD) for n in ("home", "other", "d")]
    proxy = await login(acting.url, "fils@example.org", PASSWORD)
    assert (await proxy.http.get("/api/me")).json()["on_behalf_of"] == "Mme Martin, sa mère"
    circle = {"lat": NEAR[0], "lon": NEAR[1], "radius_m": 250}
    preview = await disp.http.post("/api/broadcasts/preview", json={"circle": circle})
    assert preview.json()["recipients"] == 2  # the home and its proxy; the pending account is nobody's recipient
    small = await disp.http.post("/api/broadcasts/preview", json={"circle": {**circle, "radius_m": 150}})
    assert error_code(small) == (422, "area_too_small")
    async with (
        stream(listening.ws_url, "/ws/resident", home.token) as home_ws,
        stream(listening.ws_url, "/ws/resident", proxy.token) as proxy_ws,
    ):
        for body in (
            {"text": "Coupure d'eau", "level": "info", "sectors": ["centre"]},
            {"text": "Route fermée", "level": "warning", "circle": circle},
            {"text": "Plage", "level": "info", "sectors": ["plage"]},
        ):
            assert (await disp.http.post("/api/broadcasts", json=body)).status_code == 201
        await other.post_alert(category="fire", lat=CENTRE[0], lon=CENTRE[1])
        await other.post_alert(category="theft", lat=PLAGE[0], lon=PLAGE[1])
        got_home, got_proxy = await drain(home_ws, 0.6), await drain(proxy_ws, 0.6)
    assert [m["type"] for m in got_home] == ["broadcast", "broadcast", "alert.nearby"]
    assert got_proxy == got_home
    for c in (mod, home, other, disp, proxy):
        await c.aclose()
