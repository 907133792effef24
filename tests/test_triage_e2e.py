"""Issue 6 acceptance, end to end: incidents from witnesses, ranking,
escalation pushed on /ws/ops, the reporter's view, units, merge and split,
and statistics that agree with an oracle over the raw rows, on both stores."""

from __future__ import annotations

import asyncio
import math
import random
import statistics as pystats
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from dispatch.settings import REPO_ROOT
from tests.e2e import CENTRE, config_copy, embedded_env, production_env, server_factory
from tests.listeners import Listener, settle, start_all
from tests.seed import seed
from tests.test_fanout_e2e import CITY

LAT, LON = CENTRE


def config_with_triage(tmp: Path, triage: str) -> Path:
    """The shipped config plus a [triage] table."""
    return config_copy(tmp, triage)


@pytest.fixture(params=["embedded", "production"])
def env(request, tmp_path) -> dict[str, str]:
    if request.param == "embedded":
        return embedded_env(tmp_path)
    return production_env(
        request.getfixturevalue("pg_url"), request.getfixturevalue("redis_url"), request.getfixturevalue("bus_prefix")
    )


def h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_three_witnesses_make_one_incident_that_outranks_and_escalates(tmp_path, server_factory) -> None:
    cfg = config_with_triage(tmp_path, "[triage.ack_targets_min]\nburglary = 0.1\n")  # 6 s
    env = {**embedded_env(tmp_path), "DISPATCH_CONFIG": str(cfg)}
    server = server_factory(env)
    residents, (disp,) = await seed(env["DISPATCH_DATABASE_URL"], CITY, [CENTRE] * 4, staff=["dispatcher"])
    ops = Listener(server.ws_url, "/ws/ops", disp.token)
    await start_all([ops])
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        # three residents within 100 m, a minute apart at most
        ids = []
        for k, r in enumerate(residents[:3]):
            resp = await http.post(
                "/api/alerts",
                json={"category": "burglary", "lat": LAT + 0.0003 * k, "lon": LON, "text": "Fenêtre brisée"},
                headers=h(r.token),
            )
            assert resp.status_code == 201
            ids.append(resp.json())
        assert len({a["incident"] for a in ids}) == 1
        # a lone burglary far away (other side of town)
        lone_lat, lone_lon = CITY.random_point(random.Random(3))
        lone = (
            await http.post(
                "/api/alerts",
                json={"category": "burglary", "lat": lone_lat, "lon": lone_lon},
                headers=h(residents[3].token),
            )
        ).json()
        assert lone["incident"] != ids[0]["incident"]
        queue = (await http.get("/api/incidents", headers=h(disp.token))).json()
        ranked = [i["id"] for i in queue]
        assert ranked.index(ids[0]["incident"]) < ranked.index(lone["incident"])
        group = next(i for i in queue if i["id"] == ids[0]["incident"])
        assert group["witnesses"] == 3 and sorted(group["alerts"]) == sorted(a["id"] for a in ids)
        before = group["priority"]
        # left unacknowledged past its target (6 s), it escalates by itself
        deadline = asyncio.get_running_loop().time() + 20
        pushed = None
        while asyncio.get_running_loop().time() < deadline and pushed is None:
            await asyncio.sleep(0.5)
            pushed = next(
                (
                    m
                    for m in ops.messages
                    if m["type"] == "incident.updated"
                    and m["data"]["id"] == group["id"]
                    and m["data"]["escalation"] >= 1
                ),
                None,
            )
        assert pushed is not None, "no escalation pushed on /ws/ops"
        assert pushed["data"]["overdue"] and pushed["data"]["priority"] > before
        detail = (await http.get(f"/api/incidents/{group['id']}", headers=h(disp.token))).json()
        assert any(e["action"] == "escalated" for e in detail["history"])
        assert {d["author"] for d in detail["alert_details"]} == {r.user_id for r in residents[:3]}
    await ops.stop()


async def test_lifecycle_units_and_reporter_view(env, server_factory) -> None:
    server = server_factory(env)
    db = env["DISPATCH_DATABASE_URL"]
    residents, (disp, sup) = await seed(db, CITY, [CENTRE, (LAT + 0.0002, LON)], staff=["dispatcher", "supervisor"])
    reporter = Listener(server.ws_url, "/ws/resident", residents[0].token)
    ops = Listener(server.ws_url, "/ws/ops", disp.token)
    await start_all([reporter, ops])
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        unit = (await http.post("/api/units", json={"name": "Patrouille Nord"}, headers=h(sup.token))).json()
        assert unit["status"] == "available"
        a1 = (
            await http.post(
                "/api/alerts", json={"category": "rodeo", "lat": LAT, "lon": LON}, headers=h(residents[0].token)
            )
        ).json()
        iid = a1["incident"]
        url = f"/api/incidents/{iid}"
        r = await http.patch(url, json={"status": "acknowledged", "note": "vu"}, headers=h(disp.token))
        assert r.status_code == 200 and r.json()["status"] == "acknowledged" and r.json()["acknowledged_at"]
        r = await http.patch(url, json={"unit": unit["id"]}, headers=h(disp.token))
        assert r.json()["status"] == "assigned" and r.json()["unit"]["id"] == unit["id"]
        units = (await http.get("/api/units", headers=h(disp.token))).json()
        assert next(u for u in units if u["id"] == unit["id"])["status"] == "busy"
        bad = await http.patch(url, json={"status": "new"}, headers=h(disp.token))
        assert bad.status_code == 409 and bad.json()["error"]["code"] == "forbidden_transition"
        r = await http.patch(url, json={"priority": 99}, headers=h(disp.token))
        assert r.json()["pinned"] and r.json()["priority"] == 99
        r = await http.patch(url, json={"status": "resolved", "note": "dispersés"}, headers=h(disp.token))
        assert r.json()["status"] == "resolved"
        units = (await http.get("/api/units", headers=h(disp.token))).json()
        assert next(u for u in units if u["id"] == unit["id"])["status"] == "available"
        assert (await http.patch(url, json={"status": "in_progress"}, headers=h(disp.token))).status_code == 409
        detail = (await http.get(url, headers=h(sup.token))).json()
        actions = [(e["action"], e.get("to")) for e in detail["history"]]
        assert (
            ("status", "acknowledged") in actions
            and ("status", "resolved") in actions
            and ("assigned", None) in actions
        )
        assert all(e["at"] for e in detail["history"])
        assert any(e.get("note") == "dispersés" and e["actor"] == disp.user_id for e in detail["history"])
        # the alert followed its incident
        alert = (await http.get(f"/api/alerts/{a1['id']}", headers=h(disp.token))).json()
        assert alert["status"] == "resolved"
    await settle([reporter, ops], quiet=0.5)
    statuses = [m for m in reporter.messages if m["type"] == "alert.status"]
    # the resident hears of the unit too (issue 18: the same state as the desk's)
    assert [m["data"]["status"] for m in statuses] == ["acknowledged", "assigned", "resolved"]
    for m in statuses:  # no police detail
        assert set(m["data"]) == {"id", "status", "updated_at"} and m["data"]["id"] == a1["id"]
    assert any(m["type"] == "incident.updated" and m["data"]["status"] == "resolved" for m in ops.messages)
    await asyncio.gather(reporter.stop(), ops.stop())


async def test_merge_and_split(tmp_path, server_factory) -> None:
    env = embedded_env(tmp_path)
    server = server_factory(env)
    residents, (sup,) = await seed(env["DISPATCH_DATABASE_URL"], CITY, [CENTRE] * 3, staff=["supervisor"])
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        far = CITY.random_point(random.Random(11))
        a = (
            await http.post(
                "/api/alerts", json={"category": "fire", "lat": LAT, "lon": LON}, headers=h(residents[0].token)
            )
        ).json()
        b = (
            await http.post(
                "/api/alerts", json={"category": "fire", "lat": far[0], "lon": far[1]}, headers=h(residents[1].token)
            )
        ).json()
        assert a["incident"] != b["incident"]
        merged = (
            await http.post(
                f"/api/incidents/{a['incident']}/merge", json={"incidents": [b["incident"]]}, headers=h(sup.token)
            )
        ).json()
        assert sorted(merged["alerts"]) == sorted([a["id"], b["id"]]) and merged["witnesses"] == 2
        gone = (await http.get(f"/api/incidents/{b['incident']}", headers=h(sup.token))).json()
        assert gone["status"] == "duplicate" and gone["alerts"] == []
        new = await http.post(f"/api/incidents/{a['incident']}/split", json={"alerts": [b["id"]]}, headers=h(sup.token))
        assert new.status_code == 201 and new.json()["alerts"] == [b["id"]]
        back = (await http.get(f"/api/incidents/{a['incident']}", headers=h(sup.token))).json()
        assert back["alerts"] == [a["id"]] and back["witnesses"] == 1
        moved = (await http.get(f"/api/alerts/{b['id']}", headers=h(sup.token))).json()
        assert moved["incident"] == new.json()["id"]
        bad = await http.post(f"/api/incidents/{a['incident']}/split", json={"alerts": [a["id"]]}, headers=h(sup.token))
        assert bad.status_code == 422


async def test_grouping_sees_an_operators_split_at_once(env, server_factory) -> None:
    """Grouping reads an incident an operator has just changed as it is now,
    not as the previous alert's grouping saw it."""
    server = server_factory(env)
    residents, (sup,) = await seed(env["DISPATCH_DATABASE_URL"], CITY, [CENTRE] * 4, staff=["supervisor"])
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:

        async def fire(k: int) -> dict:
            r = await http.post(
                "/api/alerts", json={"category": "fire", "lat": LAT, "lon": LON}, headers=h(residents[k].token)
            )
            assert r.status_code == 201
            return r.json()

        a, b, c = await fire(0), await fire(1), await fire(2)  # the last one read the incident as [a, b]
        assert a["incident"] == b["incident"] == c["incident"]
        split = await http.post(
            f"/api/incidents/{a['incident']}/split", json={"alerts": [b["id"]]}, headers=h(sup.token)
        )
        assert split.status_code == 201
        d = await fire(3)  # both incidents would take it: the one whose first alert is older wins
        assert d["incident"] == a["incident"]
        first = (await http.get(f"/api/incidents/{a['incident']}", headers=h(sup.token))).json()
        second = (await http.get(f"/api/incidents/{split.json()['id']}", headers=h(sup.token))).json()
        assert (first["alerts"], second["alerts"]) == ([a["id"], c["id"], d["id"]], [b["id"]])


def _p90(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


async def _raw_rows(db_url: str) -> tuple[list[tuple], list[tuple]]:
    """Straight from the database, bypassing the store code."""
    if db_url.startswith("sqlite"):
        import sqlite3

        con = sqlite3.connect(db_url.removeprefix("sqlite:///"))
        alerts = con.execute("SELECT sector, category, created_at FROM alerts").fetchall()
        incidents = con.execute("SELECT created_at, acknowledged_at, resolved_at, sector FROM incidents").fetchall()
        con.close()
        parse = lambda v: None if v is None else datetime.fromisoformat(v)  # noqa: E731
        return [(s, c, parse(t)) for s, c, t in alerts], [(*map(parse, r[:3]), r[3]) for r in incidents]
    import asyncpg

    con = await asyncpg.connect(db_url)
    try:
        alerts = [tuple(r) for r in await con.fetch("SELECT sector, category, created_at FROM alerts")]
        incidents = [
            tuple(r) for r in await con.fetch("SELECT created_at, acknowledged_at, resolved_at, sector FROM incidents")
        ]
    finally:
        await con.close()
    return alerts, incidents


async def test_statistics_agree_with_an_oracle(env, server_factory) -> None:
    server = server_factory(env)
    db = env["DISPATCH_DATABASE_URL"]
    rng = random.Random(21)
    residents, (disp,) = await seed(db, CITY, [CITY.random_point(rng) for _ in range(10)], staff=["dispatcher"])
    cats = ["solidarity", "solidarity", "fire", "theft", "ecology", "rodeo"]
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        incidents = set()
        for i in range(40):
            lat, lon = CITY.random_point(rng)
            r = await http.post(
                "/api/alerts",
                json={"category": rng.choice(cats), "lat": lat, "lon": lon},
                headers=h(rng.choice(residents).token),
            )
            incidents.add(r.json()["incident"])
        for iid in sorted(incidents)[: len(incidents) // 2]:
            await http.patch(f"/api/incidents/{iid}", json={"status": "acknowledged"}, headers=h(disp.token))
        for iid in sorted(incidents)[: len(incidents) // 4]:
            await http.patch(f"/api/incidents/{iid}", json={"status": "resolved"}, headers=h(disp.token))
        got = (await http.get("/api/stats", headers=h(disp.token))).json()
        csv_text = (await http.get("/api/stats.csv", headers=h(disp.token))).text
        handover = await http.get("/api/handover", params={"sector": CITY.sector_ids[0]}, headers=h(disp.token))
        assert handover.status_code == 200 and "open" in handover.json()
    alerts, incs = await _raw_rows(db)
    counts = Counter((s, c, t.astimezone(UTC).date().isoformat()) for s, c, t in alerts)
    assert {(r["sector"], r["category"], r["day"]): r["count"] for r in got["counts"]} == dict(counts)
    ack = [(a - c).total_seconds() for c, a, _, _s in incs if a is not None]
    res = [(r - c).total_seconds() for c, _, r, _s in incs if r is not None]
    assert got["time_to_acknowledge"]["n"] == len(ack) > 0
    assert got["time_to_acknowledge"]["median_s"] == pytest.approx(pystats.median(ack), abs=1e-3)
    assert got["time_to_acknowledge"]["p90_s"] == pytest.approx(_p90(ack), abs=1e-3)
    assert got["time_to_resolve"]["median_s"] == pytest.approx(pystats.median(res), abs=1e-3)
    assert got["solidarity_share"] == pytest.approx(sum(1 for _, c, _ in alerts if c == "solidarity") / len(alerts))
    # issue 18: the desk's charts, per day x category (city-wide) and per sector
    per_day = Counter((t.astimezone(UTC).date().isoformat(), c) for _, c, t in alerts)
    assert {(r["day"], r["category"]): r["count"] for r in got["per_day"]} == dict(per_day)
    assert [(r["day"], r["category"]) for r in got["per_day"]] == sorted(per_day)
    sectors = {s for s, _, _ in alerts} | {s for *_, s in incs}
    assert [r["sector"] for r in got["per_sector"]] == sorted(sectors)
    for row in got["per_sector"]:
        mine = [r for r in incs if r[3] == row["sector"]]
        for key, times in (
            ("time_to_acknowledge", [(a - c).total_seconds() for c, a, _, _s in mine if a is not None]),
            ("time_to_resolve", [(r - c).total_seconds() for c, _, r, _s in mine if r is not None]),
        ):
            assert row[key]["n"] == len(times)
            assert row[key]["p90_s"] == pytest.approx(_p90(times), abs=1e-3)
            if times:
                assert row[key]["median_s"] == pytest.approx(pystats.median(times), abs=1e-3)
    assert sum(r["time_to_acknowledge"]["n"] for r in got["per_sector"]) == len(ack)
    lines = csv_text.strip().splitlines()
    assert lines[0] == "sector,category,day,count" and len(lines) == len(counts) + 1
