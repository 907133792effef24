"""Drawn zones, pure (dispatch/core/zones.py): the edge rule, validation,
and the live index (HomeIndex.in_zone) agreeing with in_zone home by home.
The end-to-end acceptance is tests/test_broadcast_polygon_e2e.py."""

from __future__ import annotations

import math
import random

import pytest

from dispatch.core.audience import HomeIndex, broadcast_reaches
from dispatch.core.zones import ZoneError, area_m2, in_zone, parse_polygon
from geo.polygon import point_in_polygon
from tests.test_broadcast_polygon_e2e import OUTER, POLYGON, oracle_in_zone

ZONE = parse_polygon(POLYGON)


@pytest.mark.parametrize(
    ("lat", "lon"),
    [(43.18, 3.012), (43.178, 3.0), (43.192, 3.004), (43.178, 2.995), (43.1825, 3.0), (43.184, 3.003), (43.181, 3.006)],
)
def test_a_home_on_a_line_is_in_the_zone(lat: float, lon: float) -> None:
    assert in_zone(lat, lon, ZONE) and oracle_in_zone(lat, lon, POLYGON)


def test_the_edge_rule_is_what_decides_lines() -> None:
    """Without it, even-odd ray casting drops some homes on the lines: the
    rule is not vacuous."""
    lines = [(43.18, 3.012), (43.192, 3.004), (43.184, 3.003), (43.1825, 3.0)]
    assert not all(point_in_polygon(lon, lat, ZONE) for lat, lon in lines)


def test_in_the_hole_and_outside_are_not() -> None:
    assert not in_zone(43.1825, 3.003, ZONE)  # the hole
    assert not in_zone(43.17, 3.0, ZONE) and not in_zone(43.19, 3.011, ZONE)
    assert in_zone(43.1795, 3.0, ZONE)


def test_agrees_with_the_oracle_and_the_index_on_random_homes() -> None:
    rng = random.Random(3)
    homes = {i: (rng.uniform(43.175, 43.195), rng.uniform(2.99, 3.017)) for i in range(3000)}
    index: HomeIndex[int] = HomeIndex()
    for i, (lat, lon) in homes.items():
        index.add(i, lat, lon, None)
    want = {i for i, (lat, lon) in homes.items() if oracle_in_zone(lat, lon, POLYGON)}
    assert {i for i, (lat, lon) in homes.items() if in_zone(lat, lon, ZONE)} == want
    assert index.broadcast_audience({"polygon": POLYGON}) == want
    assert all(broadcast_reaches({"polygon": POLYGON}, *homes[i], None) for i in want)
    assert 500 < len(want) < 2500


def test_area_less_holes() -> None:
    lat0 = math.radians(43.185)
    square = {"type": "Polygon", "coordinates": [[[3, 43.18], [3.01, 43.18], [3.01, 43.19], [3, 43.19], [3, 43.18]]]}
    want = (0.01 * 111_320) ** 2 * math.cos(lat0)
    assert area_m2(parse_polygon(square)) == pytest.approx(want, rel=1e-3)
    holed = parse_polygon(POLYGON)
    assert area_m2(holed) < area_m2(parse_polygon({"type": "Polygon", "coordinates": [OUTER]}))


@pytest.mark.parametrize(
    "raw",
    [
        None,
        {"type": "Polygon"},
        {"type": "Polygon", "coordinates": []},
        {"type": "Polygon", "coordinates": [[[3, 43], [3.1, 43], [3.1, 43.1], [3, 43]]], "bbox": []},
        {"type": "Polygon", "coordinates": [[[3, 43], [3.1, 43], [3.2, 43], [3, 43]]]},  # no area
        {"type": "Polygon", "coordinates": [[[3, 43, 10], [3.1, 43], [3.1, 43.1], [3, 43, 10]]]},
        {"type": "Polygon", "coordinates": [[[True, 43], [3.1, 43], [3.1, 43.1], [True, 43]]]},
        {"type": "Polygon", "coordinates": [[[3, 43], [4, 43], [4, 44], [3, 43]]]},  # over 50 km
    ],
)
def test_refused(raw: object) -> None:
    with pytest.raises(ZoneError):
        parse_polygon(raw)
