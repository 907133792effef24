"""Issue 18: GET /api/broadcasts, on both stores. A resident who looks after
two broadcasts to its sector sees both, newest first, in the resident view;
one to another sector, a circle and a drawn zone elsewhere are not listed,
and one whose zone holds the home is. Operators see all with their target;
`since` narrows, a bad one is 422; broadcasts.history_days bounds the window."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from dispatch.settings import REPO_ROOT
from geo import load_city
from tests.e2e import embedded_env, production_env, server_factory
from tests.seed import seed

CITY = load_city(REPO_ROOT / "geo" / "cities" / "narbonne.geojson")
HOME = (43.1837, 3.0042)  # Narbonne's centre
FAR = (43.155, 3.15)  # Narbonne-Plage, another sector
SQUARE = 0.004  # half a side, in degrees: a zone of about 650 m x 900 m


def square(lat: float, lon: float) -> dict[str, Any]:
    ring = [[lon - SQUARE, lat - SQUARE], [lon + SQUARE, lat - SQUARE], [lon + SQUARE, lat + SQUARE]]
    return {"type": "Polygon", "coordinates": [[*ring, [lon - SQUARE, lat + SQUARE], ring[0]]]}


async def run_history(server: Any, db_url: str) -> None:
    home_sector, far_sector = CITY.sector_of(*HOME), CITY.sector_of(*FAR)
    assert home_sector and far_sector and home_sector != far_sector
    (resident, neighbour), (dispatcher,) = await seed(db_url, CITY, [HOME, FAR], staff=["dispatcher"])
    targets = [
        {"sectors": [home_sector]},
        {"sectors": [far_sector]},
        {"circle": {"lat": FAR[0], "lon": FAR[1], "radius_m": 500}},
        {"polygon": square(*FAR)},
        {"sectors": [home_sector, far_sector]},
        {"polygon": square(*HOME)},
    ]
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        ops = {"Authorization": f"Bearer {dispatcher.token}"}
        ids = []
        for i, target in enumerate(targets):
            r = await http.post(
                "/api/broadcasts", json={**target, "text": f"Message {i}", "level": "info"}, headers=ops
            )
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        mine = await http.get("/api/broadcasts", headers={"Authorization": f"Bearer {resident.token}"})
        theirs = await http.get("/api/broadcasts", headers={"Authorization": f"Bearer {neighbour.token}"})
        staff = await http.get("/api/broadcasts", headers=ops)
        future = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
        narrowed = await http.get("/api/broadcasts", params={"since": future}, headers=ops)
        bad = await http.get("/api/broadcasts", params={"since": "yesterday"}, headers=ops)
    assert mine.status_code == 200, mine.text
    assert [b["id"] for b in mine.json()] == [ids[5], ids[4], ids[0]]
    assert all(set(b) == {"id", "level", "text", "created_at", "seq"} for b in mine.json())
    assert [b["text"] for b in mine.json()] == ["Message 5", "Message 4", "Message 0"]
    assert [b["id"] for b in theirs.json()] == [ids[4], ids[3], ids[2], ids[1]]
    assert [b["id"] for b in staff.json()] == ids[::-1]
    assert [b["target"] for b in staff.json()] == ["polygon", "sectors", "polygon", "circle", "sectors", "sectors"]
    assert all({"recipients", "author"} <= set(b) for b in staff.json())
    assert narrowed.json() == []
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "since"


async def test_history_embedded(tmp_path, server_factory) -> None:
    env = embedded_env(tmp_path)
    await run_history(server_factory(env), env["DISPATCH_DATABASE_URL"])


async def test_history_postgres_redis(pg_url, redis_url, bus_prefix, server_factory) -> None:
    await run_history(server_factory(production_env(pg_url, redis_url, bus_prefix)), pg_url)


async def test_history_days_bounds_the_window(tmp_path, server_factory) -> None:
    """With history_days at about 3 s, a broadcast listed at once has left
    the resident's history 4 s later."""
    env = {**embedded_env(tmp_path), "DISPATCH_BROADCASTS_HISTORY_DAYS": str(3 / 86400)}
    server = server_factory(env)
    (resident,), (dispatcher,) = await seed(env["DISPATCH_DATABASE_URL"], CITY, [HOME], staff=["dispatcher"])
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        ops = {"Authorization": f"Bearer {dispatcher.token}"}
        mine = {"Authorization": f"Bearer {resident.token}"}
        sent = await http.post(
            "/api/broadcasts", json={"sectors": "all", "text": "Ancien", "level": "info"}, headers=ops
        )
        assert sent.status_code == 201
        fresh = (await http.get("/api/broadcasts", headers=mine)).json()
        await asyncio.sleep(4)
        old = (await http.get("/api/broadcasts", headers=mine)).json()
    assert [b["id"] for b in fresh] == [sent.json()["id"]]
    assert old == []
