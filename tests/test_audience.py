"""The audience function against a brute-force oracle (haversine distance plus
point-in-sector), including homes exactly at the radius and points on sector
boundaries. Pure: no server, no event loop."""

from __future__ import annotations

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.core.audience import HomeIndex, resident_wants
from dispatch.core.model import Home
from dispatch.settings import REPO_ROOT
from geo import haversine_m, load_city
from tests.geo_oracle import oracle_sector

CITY = load_city(REPO_ROOT / "geo" / "cities" / "narbonne.geojson")
EARTH_R = 6_371_008.8
PROPS = settings(max_examples=150, deadline=None, derandomize=True, database=None)


def destination(lat: float, lon: float, bearing_deg: float, dist_m: float) -> tuple[float, float]:
    d, b = dist_m / EARTH_R, math.radians(bearing_deg)
    p1, l1 = math.radians(lat), math.radians(lon)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2))
    return math.degrees(p2), math.degrees(l2)


def boundary_point(rng: random.Random) -> tuple[float, float]:
    sector = rng.choice(CITY.sectors)
    polygon = rng.choice(sector.polygons)
    ring = polygon[0]
    i = rng.randrange(len(ring) - 1)
    (x1, y1), (x2, y2) = ring[i], ring[i + 1]
    t = rng.random()
    return y1 + t * (y2 - y1), x1 + t * (x2 - x1)


def oracle(homes: list[Home], lat: float, lon: float, radius: float) -> set[int]:
    sector = oracle_sector(CITY, lat, lon)
    return {
        h.user_id
        for h in homes
        if haversine_m(h.lat, h.lon, lat, lon) <= radius
        or (sector is not None and oracle_sector(CITY, h.lat, h.lon) == sector)
    }


@PROPS
@given(seed=st.integers(0, 2**32 - 1), radius=st.sampled_from([50.0, 300.0, 500.0, 1200.0]), n=st.integers(1, 300))
def test_index_matches_oracle(seed: int, radius: float, n: int) -> None:
    rng = random.Random(seed)
    lat, lon = boundary_point(rng) if rng.random() < 0.3 else CITY.random_point(rng)
    homes = []
    for uid in range(n):
        kind = rng.random()
        if kind < 0.25:  # exactly at the radius
            hl, ho = destination(lat, lon, rng.uniform(0, 360), radius)
        elif kind < 0.4:  # on a sector boundary
            hl, ho = boundary_point(rng)
        elif kind < 0.7:  # close by
            hl, ho = destination(lat, lon, rng.uniform(0, 360), rng.uniform(0, radius * 1.5))
        else:
            hl, ho = CITY.random_point(rng)
        homes.append(Home(uid, hl, ho, CITY.sector_of(hl, ho)))
    index: HomeIndex[int] = HomeIndex()
    for h in homes:
        index.add(h.user_id, h.lat, h.lon, h.sector)
    got = index.alert_audience(lat, lon, CITY.sector_of(lat, lon), radius)
    assert got == oracle(homes, lat, lon, radius)
    data = {"lat": lat, "lon": lon, "sector": CITY.sector_of(lat, lon)}
    assert {h.user_id for h in homes if resident_wants("alert.created", data, h, radius)} == got


def test_remove_and_reindex() -> None:
    index: HomeIndex[str] = HomeIndex()
    lat, lon = CITY.random_point(random.Random(1))
    index.add("a", lat, lon, "s1")
    index.add("b", lat, lon, "s2")
    index.remove("a")
    assert index.alert_audience(lat, lon, None, 10) == {"b"}
    index.add("b", 0.0, 0.0, None)  # moving a member re-indexes it
    assert index.alert_audience(lat, lon, "s2", 10) == set()
    assert len(index) == 1


@PROPS
@given(seed=st.integers(0, 2**32 - 1))
def test_broadcast_audience(seed: int) -> None:
    rng = random.Random(seed)
    homes = [Home(i, *CITY.random_point(rng), None) for i in range(200)]
    homes = [Home(h.user_id, h.lat, h.lon, CITY.sector_of(h.lat, h.lon)) for h in homes]
    index: HomeIndex[int] = HomeIndex()
    for h in homes:
        index.add(h.user_id, h.lat, h.lon, h.sector)
    chosen = rng.sample(CITY.sector_ids, rng.randint(1, len(CITY.sector_ids)))
    by_sector = {"sectors": chosen}
    assert index.broadcast_audience(by_sector) == {h.user_id for h in homes if h.sector in chosen}
    clat, clon = CITY.random_point(rng)
    circle = {"circle": {"lat": clat, "lon": clon, "radius_m": rng.uniform(100, 3000)}}
    expect = {h.user_id for h in homes if haversine_m(h.lat, h.lon, clat, clon) <= circle["circle"]["radius_m"]}
    assert index.broadcast_audience(circle) == expect
    for data in (by_sector, circle):
        assert {h.user_id for h in homes if resident_wants("broadcast.sent", data, h, 500)} == index.broadcast_audience(
            data
        )
