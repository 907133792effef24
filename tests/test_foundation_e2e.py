"""Issue 2 acceptance, end to end against real `dispatch serve` processes:
CLI account -> login -> POST alert -> /ws/ops within 1 s -> listed -> survives
a restart; on SQLite + in-process bus and on PostgreSQL + Redis, including
across two server processes."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest

from tests.e2e import CENTRE, PASSWORD, Accounts, embedded_env, production_env, server_factory
from tests.support import login, next_message, stream


@pytest.fixture(params=["embedded", "production"])
def backend_env(request: pytest.FixtureRequest, tmp_path) -> dict[str, str]:
    if request.param == "embedded":
        return embedded_env(tmp_path)
    pg_url = request.getfixturevalue("pg_url")
    redis_url = request.getfixturevalue("redis_url")
    prefix = request.getfixturevalue("bus_prefix")
    return production_env(pg_url, redis_url, prefix)


async def test_alert_flows_to_ops_stream_and_survives_restart(backend_env, server_factory) -> None:
    accounts = Accounts(backend_env)
    resident_id = accounts.add("resident", "marie@example.org", *CENTRE, name="Marie")
    accounts.add("dispatcher", "disp@example.org")
    server = server_factory(backend_env)

    resident = await login(server.url, "marie@example.org", PASSWORD)
    dispatcher = await login(server.url, "disp@example.org", PASSWORD)
    assert resident.user_id == resident_id and resident.role == "resident"

    async with stream(server.ws_url, "/ws/ops", dispatcher.token) as ops:
        await asyncio.sleep(0.1)
        t0 = time.monotonic()
        r = await resident.post_alert(category="burglary", lat=CENTRE[0] + 0.001, lon=CENTRE[1], text="Porte forcée")
        assert r.status_code == 201, r.text
        alert = r.json()
        assert alert["sector"] and isinstance(alert["cell"], str) and len(alert["cell"]) == 15
        msg = await next_message(ops, timeout=1.0, type_="alert.created")
        assert time.monotonic() - t0 < 1.0
        assert msg["data"]["id"] == alert["id"] and msg["data"]["author"] == resident_id
        assert isinstance(msg["seq"], int) and msg["seq"] > 0

    listed = (await dispatcher.http.get("/api/alerts")).json()
    assert [a["id"] for a in listed] == [alert["id"]]

    server.stop()
    server.start()
    after = (await dispatcher.http.get("/api/alerts")).json()  # sessions are durable too
    assert [a["id"] for a in after] == [alert["id"]]
    assert after[0]["sector"] == alert["sector"] and after[0]["cell"] == alert["cell"]
    await resident.aclose()
    await dispatcher.aclose()


async def test_two_servers_behave_as_one(pg_url, redis_url, bus_prefix, server_factory) -> None:
    env = production_env(pg_url, redis_url, bus_prefix)
    accounts = Accounts(env)
    accounts.add("resident", "paul@example.org", *CENTRE)
    accounts.add("supervisor", "sup@example.org")
    a = server_factory(env)
    b = server_factory(env)
    resident = await login(a.url, "paul@example.org", PASSWORD)
    sup_b = await login(b.url, "sup@example.org", PASSWORD)
    async with stream(b.ws_url, "/ws/ops", sup_b.token) as ops_b:
        await asyncio.sleep(0.1)
        ids = []
        for i in range(5):
            r = await resident.post_alert(category="fire", lat=CENTRE[0], lon=CENTRE[1] + i * 0.001)
            assert r.status_code == 201
            ids.append(r.json()["id"])
        got = [(await next_message(ops_b, timeout=1.0, type_="alert.created")) for _ in ids]
    assert [m["data"]["id"] for m in got] == ids
    seqs = [m["seq"] for m in got]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    await resident.aclose()
    await sup_b.aclose()


async def test_client_id_is_idempotent(tmp_path, server_factory) -> None:
    env = embedded_env(tmp_path)
    Accounts(env).add("resident", "r@example.org", *CENTRE)
    server = server_factory(env)
    resident = await login(server.url, "r@example.org", PASSWORD)
    cid = str(uuid.uuid4())
    first = await resident.post_alert(category="theft", lat=CENTRE[0], lon=CENTRE[1], client_id=cid)
    again = await resident.post_alert(category="theft", lat=CENTRE[0], lon=CENTRE[1], client_id=cid)
    assert first.status_code == 201
    assert again.status_code in (200, 201) and again.json()["id"] == first.json()["id"]
    mine = (await resident.http.get("/api/alerts")).json()
    assert len(mine) == 1
    await resident.aclose()


async def test_resume_since_replays_in_order_then_resync(tmp_path, server_factory) -> None:
    env = {**embedded_env(tmp_path), "DISPATCH_STREAM_REPLAY_MAX": "20"}
    acc = Accounts(env)
    acc.add("resident", "r@example.org", *CENTRE)
    acc.add("dispatcher", "d@example.org")
    server = server_factory(env)
    resident = await login(server.url, "r@example.org", PASSWORD)
    disp = await login(server.url, "d@example.org", PASSWORD)
    async with stream(server.ws_url, "/ws/ops", disp.token) as ops:
        await asyncio.sleep(0.05)
        await resident.post_alert(category="fire", lat=CENTRE[0], lon=CENTRE[1])
        first = await next_message(ops, type_="alert.created")
    ids = [(await resident.post_alert(category="ecology", lat=CENTRE[0], lon=CENTRE[1])).json()["id"] for _ in range(3)]
    async with stream(server.ws_url, "/ws/ops", disp.token, since=first["seq"]) as ops:
        replayed = [await next_message(ops, type_="alert.created") for _ in ids]
        assert [m["data"]["id"] for m in replayed] == ids
        live = (await resident.post_alert(category="rodeo", lat=CENTRE[0], lon=CENTRE[1])).json()
        nxt = await next_message(ops, type_="alert.created")
        assert nxt["data"]["id"] == live["id"] and nxt["seq"] > replayed[-1]["seq"]
    for _ in range(12):  # each alert is two events now (alert + incident): well past 20
        await resident.post_alert(category="ecology", lat=CENTRE[0], lon=CENTRE[1])
    async with stream(server.ws_url, "/ws/ops", disp.token, since=first["seq"]) as ops:
        msg = await next_message(ops)
        assert msg["type"] == "resync"
    await resident.aclose()
    await disp.aclose()


async def test_healthz(tmp_path, server_factory) -> None:
    server = server_factory(embedded_env(tmp_path))
    r = httpx.get(server.url + "/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"


def test_malformed_sectors_file_stops_start_up(tmp_path) -> None:
    from tests.support import dispatch_cli

    bad = tmp_path / "city.geojson"
    bad.write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"id": "a", "name": "A"},'
        ' "geometry": {"type": "Polygon", "coordinates": [[[3.0, 43.1], [3.1, 43.1], [3.1, 43.2]]]}}]}'
    )
    env = {**embedded_env(tmp_path), "DISPATCH_CITY_SECTORS": str(bad)}
    done = dispatch_cli("serve", "--port", "0", env=env, check=False)
    assert done.returncode != 0
    assert str(bad) in done.stderr and "features[0] (id 'a')" in done.stderr and "ring" in done.stderr


def test_cli_user_import_is_all_or_nothing(tmp_path) -> None:
    from tests.support import dispatch_cli

    env = embedded_env(tmp_path)
    good = tmp_path / "good.csv"
    good.write_text(
        "role,email,password,name,lat,lon\nresident,a@example.org,anne lives here,Anne,43.18,3.0\ndispatcher,d@example.org,dan works here,Dan,,\n"
    )
    out = dispatch_cli("user", "import", str(good), env=env)
    assert out.stdout.strip() == "2"
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "role,email,password,name,lat,lon\nresident,b@example.org,bee buzzing by,B,43.18,3.0\nresident,c@example.org,sea and sunshine,C,,\n"
    )
    done = dispatch_cli("user", "import", str(bad), env=env, check=False)
    assert done.returncode != 0 and "line 3" in done.stderr
    # nothing of the bad file went in: b@ can still be created
    assert (
        dispatch_cli(
            "user",
            "add",
            "--role",
            "resident",
            "--email",
            "b@example.org",
            "--password",
            "bee buzzing by",
            "--lat",
            "43.18",
            "--lon",
            "3.0",
            env=env,
        ).returncode
        == 0
    )
    dup = tmp_path / "dup.csv"
    dup.write_text(
        "role,email,password,name,lat,lon\nsupervisor,e@example.org,eagle in the sky,E,,\nsupervisor,A@example.org,again anne here,A,,\n"
    )
    done = dispatch_cli("user", "import", str(dup), env=env, check=False)
    assert done.returncode != 0 and "line 3" in done.stderr
