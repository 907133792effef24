"""Issue 18 acceptance: a broadcast to a drawn zone (a GeoJSON Polygon with a
hole) reaches exactly the residents an independent oracle says, on both
stores: the preview's count == the broadcast's recipients == the residents
who received it live on /ws/resident. Homes on an outer edge, on a vertex
and on the hole's edge count as inside (the zone is closed, core/zones.py).

The oracle is written here, not borrowed from dispatch: a winding number and
an on-segment test in exact rational arithmetic (fractions.Fraction of the
very floats sent), so it shares no rounding and no code with the server."""

from __future__ import annotations

import asyncio
import itertools
import random
from fractions import Fraction
from typing import Any

import httpx

from dispatch.settings import REPO_ROOT
from geo import load_city
from tests.e2e import embedded_env, production_env, server_factory
from tests.listeners import Listener, settle, start_all
from tests.seed import Seeded, seed

CITY = load_city(REPO_ROOT / "geo" / "cities" / "narbonne.geojson")

# Around Narbonne's centre: a non-convex outer ring (axis-aligned and slanted
# edges) and a rectangular hole. lon, lat, as GeoJSON has it.
OUTER = [[2.995, 43.178], [3.012, 43.178], [3.012, 43.186], [3.004, 43.192], [2.995, 43.186], [2.995, 43.178]]
HOLE = [[3.0, 43.181], [3.0, 43.184], [3.006, 43.184], [3.006, 43.181], [3.0, 43.181]]
POLYGON = {"type": "Polygon", "coordinates": [OUTER, HOLE]}


def _on_segment(p: tuple[Fraction, Fraction], a: tuple[Fraction, Fraction], b: tuple[Fraction, Fraction]) -> bool:
    cross = (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])
    return cross == 0 and min(a[0], b[0]) <= p[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= p[1] <= max(a[1], b[1])


def _winding(p: tuple[Fraction, Fraction], ring: list[tuple[Fraction, Fraction]]) -> int:
    w = 0
    for a, b in itertools.pairwise(ring):
        side = (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])
        if a[1] <= p[1] < b[1] and side > 0:
            w += 1
        elif b[1] <= p[1] < a[1] and side < 0:
            w -= 1
    return w


def oracle_in_zone(lat: float, lon: float, polygon: dict[str, Any]) -> bool:
    p = (Fraction(lon), Fraction(lat))
    rings = [[(Fraction(x), Fraction(y)) for x, y in ring] for ring in polygon["coordinates"]]
    if any(_on_segment(p, a, b) for ring in rings for a, b in itertools.pairwise(ring)):
        return True
    outer, *holes = rings
    return _winding(p, outer) != 0 and all(_winding(p, h) == 0 for h in holes)


def zone_homes(rng: random.Random) -> list[tuple[float, float]]:
    """(lat, lon): random homes over the zone's neighbourhood, plus homes
    exactly on its lines (outer edges, vertices, the hole's edges), inside
    the hole, and a hair either side of the slanted edges."""
    homes = [(rng.uniform(43.175, 43.195), rng.uniform(2.990, 3.017)) for _ in range(160)]
    homes += [(rng.uniform(43.178, 43.186), 3.012) for _ in range(4)]  # east edge
    homes += [(43.178, rng.uniform(2.995, 3.012)) for _ in range(4)]  # south edge
    homes += [(lat, lon) for lon, lat in OUTER[:-1]]  # every vertex
    homes += [(rng.uniform(43.181, 43.184), 3.0) for _ in range(3)]  # hole's west edge
    homes += [(43.184, rng.uniform(3.0, 3.006)) for _ in range(3)]  # hole's north edge
    homes += [(rng.uniform(43.1812, 43.1838), rng.uniform(3.0002, 3.0058)) for _ in range(6)]  # in the hole
    for _ in range(10):  # along the slanted edge (3.012, 43.186) -> (3.004, 43.192)
        t = rng.random()
        lon, lat = 3.012 - 0.008 * t, 43.186 + 0.006 * t
        homes += [(lat + 1e-6, lon), (lat - 1e-6, lon)]
    return homes


async def run_zone(server: Any, db_url: str, seed_value: int) -> None:
    rng = random.Random(seed_value)
    residents, (dispatcher, ops_user) = await seed(db_url, CITY, zone_homes(rng), staff=["dispatcher", "supervisor"])
    expected = {r.user_id for r in residents if oracle_in_zone(r.lat, r.lon, POLYGON)}  # type: ignore[arg-type]
    on_lines = [r for r in residents if r.lon in (3.012, 3.0) or r.lat == 43.178]
    # not vacuous: the zone holds some homes and not others, homes on its lines are among them
    assert 30 < len(expected) < len(residents) - 30
    assert on_lines and all(r.user_id in expected for r in on_lines)
    listeners = [Listener(server.ws_url, "/ws/resident", r.token) for r in residents]
    ops = Listener(server.ws_url, "/ws/ops", ops_user.token)
    await start_all([*listeners, ops])
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        h = {"Authorization": f"Bearer {dispatcher.token}"}
        preview = await http.post("/api/broadcasts/preview", json={"polygon": POLYGON}, headers=h)
        assert preview.status_code == 200, preview.text
        sent = await http.post(
            "/api/broadcasts", json={"polygon": POLYGON, "text": "Route fermée", "level": "warning"}, headers=h
        )
        assert sent.status_code == 201, sent.text
        history = (await http.get("/api/broadcasts", headers=h)).json()
    await settle([*listeners, ops], quiet=1.0)
    got = {
        r.user_id for r, x in zip(residents, listeners) if x.received("broadcast") == [("broadcast", sent.json()["id"])]
    }
    assert all(len(x.received("broadcast")) <= 1 for x in listeners)
    assert got == expected, f"missing {expected - got}, extra {got - expected}"
    assert preview.json()["recipients"] == sent.json()["recipients"] == len(expected)
    assert ops.received("broadcast.sent") == [("broadcast.sent", sent.json()["id"])]
    # stored with the broadcast: staff history gives the zone back as it was sent
    assert history[0]["target"] == "polygon" and history[0]["polygon"] == POLYGON
    await asyncio.gather(*(x.stop() for x in [*listeners, ops]))


async def test_polygon_zone_embedded(tmp_path, server_factory) -> None:
    env = embedded_env(tmp_path)
    await run_zone(server_factory(env), env["DISPATCH_DATABASE_URL"], seed_value=18)


async def test_polygon_zone_postgres_redis_two_workers(pg_url, redis_url, bus_prefix, server_factory) -> None:
    env = production_env(pg_url, redis_url, bus_prefix)
    await run_zone(server_factory(env, workers=2), pg_url, seed_value=19)


BAD_POLYGONS = [
    ({"type": "Polygon", "coordinates": [OUTER[:-1]]}, "invalid_polygon"),  # not closed
    ({"type": "Polygon", "coordinates": [[OUTER[0], OUTER[1], OUTER[0]]]}, "invalid_polygon"),  # 3 positions
    ({"type": "Polygon", "coordinates": [[[200, 43.1], [3.0, 43.2], [3.1, 43.2], [200, 43.1]]]}, "out_of_range"),
    ({"type": "Polygon", "coordinates": [[["3", 43.1], [3.0, 43.2], [3.1, 43.2], ["3", 43.1]]]}, "invalid_polygon"),
    ({"type": "MultiPolygon", "coordinates": [[OUTER]]}, "invalid_polygon"),
    (
        {"type": "Polygon", "coordinates": [OUTER, [[3.1, 43.1], [3.1, 43.11], [3.11, 43.11], [3.1, 43.1]]]},
        "invalid_polygon",
    ),
    (
        {
            "type": "Polygon",
            "coordinates": [[[3.0 + i * 1e-5, 43.18 + (i % 2) * 1e-3] for i in range(1200)] + [[3.0, 43.18]]],
        },
        "too_large",
    ),
    (
        {
            "type": "Polygon",
            "coordinates": [[[3.0, 43.18], [3.002, 43.18], [3.002, 43.181], [3.0, 43.181], [3.0, 43.18]]],
        },
        "area_too_small",
    ),
]


async def test_bad_polygons_answer_422_with_the_field(tmp_path, server_factory) -> None:
    env = embedded_env(tmp_path)
    server = server_factory(env)
    _, (dispatcher,) = await seed(env["DISPATCH_DATABASE_URL"], CITY, [], staff=["dispatcher"])
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        h = {"Authorization": f"Bearer {dispatcher.token}"}
        for polygon, code in BAD_POLYGONS:
            for path, body in [("/api/broadcasts/preview", {}), ("/api/broadcasts", {"text": "x", "level": "info"})]:
                r = await http.post(path, json={**body, "polygon": polygon}, headers=h)
                assert r.status_code == 422, (code, r.text)
                assert r.json()["error"]["code"] == code and r.json()["error"]["field"] == "polygon", r.text
        two = await http.post("/api/broadcasts/preview", json={"polygon": POLYGON, "sectors": "all"}, headers=h)
        assert two.status_code == 422
