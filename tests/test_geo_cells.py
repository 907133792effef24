"""geo.cells: haversine values, H3 helpers, and disk_cells as a superset cover."""

from __future__ import annotations

import math
import random

import h3
import pytest
from geo_oracle import EARTH_RADIUS_M, destination, random_point_in_disk
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo import DEMO_CITY_PATH, cell_boundary, cell_center, cell_of, disk_cells, haversine_m, load_city

CITY = load_city(DEMO_CITY_PATH)
SOUTH, WEST, NORTH, EAST = CITY.bounds
REPRODUCIBLE = settings(database=None, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- haversine ---------------------------------------------------------------


def test_haversine_sanity_values() -> None:
    assert haversine_m(43.184, 3.004, 43.184, 3.004) == 0.0
    one_degree = EARTH_RADIUS_M * math.pi / 180.0
    assert haversine_m(0.0, 0.0, 1.0, 0.0) == pytest.approx(one_degree, rel=1e-12)
    assert haversine_m(0.0, 0.0, 0.0, 1.0) == pytest.approx(one_degree, rel=1e-12)
    assert one_degree == pytest.approx(111_195.08, abs=0.01)
    assert haversine_m(0.0, 0.0, 90.0, 0.0) == pytest.approx(EARTH_RADIUS_M * math.pi / 2, rel=1e-12)
    assert haversine_m(0.0, 0.0, 0.0, 180.0) == pytest.approx(EARTH_RADIUS_M * math.pi, rel=1e-12)
    # Haversine is ill-conditioned next to the antipode: ~0.2 m on 20,000 km.
    assert haversine_m(10.0, 20.0, -10.0, -160.0) == pytest.approx(EARTH_RADIUS_M * math.pi, rel=1e-7)
    # Across the antimeridian the short way round.
    assert haversine_m(0.0, 179.9, 0.0, -179.9) == pytest.approx(0.2 * one_degree, rel=1e-9)
    # Narbonne town centre to Paris (Notre-Dame), about 632 km as the crow flies.
    assert haversine_m(43.184, 3.004, 48.853, 2.3499) == pytest.approx(632_000, rel=0.01)


def test_haversine_agrees_with_h3_up_to_the_radius() -> None:
    rng = random.Random(7)
    h3_radius_m = 6_371_007.180918475  # H3's authalic radius
    for _ in range(200):
        a = (rng.uniform(-89, 89), rng.uniform(-180, 180))
        b = (rng.uniform(-89, 89), rng.uniform(-180, 180))
        expected = h3.great_circle_distance(a, b, unit="m") * EARTH_RADIUS_M / h3_radius_m
        assert haversine_m(*a, *b) == pytest.approx(expected, rel=1e-9, abs=1e-6)
        assert haversine_m(*a, *b) == pytest.approx(haversine_m(*b, *a), rel=1e-12)


# -- cell helpers ------------------------------------------------------------


@pytest.mark.parametrize("res", [7, 8, 9, 10])
def test_cell_helpers_round_trip(res: int) -> None:
    cell = cell_of(43.184, 3.004, res)
    assert isinstance(cell, str) and h3.is_valid_cell(cell) and h3.get_resolution(cell) == res
    lat, lon = cell_center(cell)
    assert cell_of(lat, lon, res) == cell
    vertices = cell_boundary(cell)
    assert isinstance(vertices, list) and len(vertices) == 6
    assert all(isinstance(v, tuple) and len(v) == 2 for v in vertices)
    edge = h3.average_hexagon_edge_length(res, "m")
    for vlat, vlon in vertices:
        assert 0.5 * edge < haversine_m(lat, lon, vlat, vlon) < 1.5 * edge


# -- disk_cells --------------------------------------------------------------


@settings(REPRODUCIBLE, max_examples=1500)
@given(
    centre_x=st.floats(0.0, 1.0),
    centre_y=st.floats(0.0, 1.0),
    radius_m=st.floats(10.0, 3000.0),
    bearing=st.floats(0.0, 360.0),
    fraction=st.one_of(st.just(1.0), st.floats(0.98, 1.0), st.floats(0.0, 1.0)),
    res=st.sampled_from([7, 8, 9]),
)
def test_disk_cells_is_a_superset_cover(
    centre_x: float, centre_y: float, radius_m: float, bearing: float, fraction: float, res: int
) -> None:
    lat0 = SOUTH + (NORTH - SOUTH) * centre_y
    lon0 = WEST + (EAST - WEST) * centre_x
    lat, lon = destination(lat0, lon0, bearing, radius_m * fraction)
    if haversine_m(lat0, lon0, lat, lon) > radius_m:
        # destination() rounding put the point a hair outside the disk.
        lat, lon = destination(lat0, lon0, bearing, radius_m * fraction * (1 - 1e-9))
    assert haversine_m(lat0, lon0, lat, lon) <= radius_m
    cover = disk_cells(lat0, lon0, radius_m, res)
    assert cell_of(lat, lon, res) in cover


@settings(REPRODUCIBLE, max_examples=300)
@given(seed=st.integers(0, 2**32 - 1), res=st.sampled_from([7, 8, 9]))
def test_disk_cells_cover_in_batches_over_random_city_centres(seed: int, res: int) -> None:
    rng = random.Random(seed)
    lat0, lon0 = CITY.random_point(rng)
    radius_m = rng.uniform(10.0, 3000.0)
    cover = disk_cells(lat0, lon0, radius_m, res)
    for _ in range(300):
        lat, lon = random_point_in_disk(rng, lat0, lon0, radius_m)
        assert cell_of(lat, lon, res) in cover, (lat0, lon0, radius_m, res, lat, lon)
    for i in range(64):  # the rim, where a cover is most likely to be short
        lat, lon = destination(lat0, lon0, i * 360.0 / 64, radius_m * (1 - 1e-9))
        assert cell_of(lat, lon, res) in cover, (lat0, lon0, radius_m, res, lat, lon)


def _pentagon_centre() -> tuple[float, float]:
    lat, lon = h3.cell_to_latlng(sorted(h3.get_pentagons(8))[3])
    return float(lat), float(lon)


@pytest.mark.parametrize(
    "centre",
    [(0.0, 179.999), (0.0, -179.9995), (71.0, 25.0), (-54.8, -68.3), _pentagon_centre()],
    ids=["antimeridian-east", "antimeridian-west", "north-cape", "ushuaia", "pentagon"],
)
@pytest.mark.parametrize("res", [7, 9])
def test_disk_cells_cover_away_from_narbonne(centre: tuple[float, float], res: int) -> None:
    rng = random.Random(hash(centre) & 0xFFFF)
    for radius_m in (0.0, 50.0, 700.0, 2500.0):
        cover = disk_cells(*centre, radius_m, res)
        assert cell_of(*centre, res) in cover
        for _ in range(400):
            p = random_point_in_disk(rng, *centre, radius_m)
            assert cell_of(*p, res) in cover, (centre, radius_m, p)


def _sampled_cells(lat: float, lon: float, radius_m: float, res: int, n: int = 20_000) -> set[str]:
    rng = random.Random(1)
    return {cell_of(*random_point_in_disk(rng, lat, lon, radius_m), res) for _ in range(n)}


@pytest.mark.parametrize(("radius_m", "res"), [(500.0, 8), (500.0, 9), (1500.0, 9), (3000.0, 8), (200.0, 7)])
def test_disk_cells_is_reasonably_tight(radius_m: float, res: int) -> None:
    cover = disk_cells(43.184, 3.004, radius_m, res)
    hit = _sampled_cells(43.184, 3.004, radius_m, res)
    assert hit <= cover
    # Pruning by circumradius keeps at most a thin rim of cells that only
    # nearly touch the disk.
    assert len(cover) <= 1.5 * len(hit) + 6, (len(cover), len(hit))


def test_disk_cells_size_for_a_500m_alert() -> None:
    for lat, lon in [(43.184, 3.004), (43.16, 3.15), (43.21, 2.97)]:
        assert len(disk_cells(lat, lon, 500.0, 8)) < 40
        assert len(disk_cells(lat, lon, 500.0, 9)) < 60


def test_disk_cells_zero_radius_and_bad_radius() -> None:
    assert cell_of(43.184, 3.004, 9) in disk_cells(43.184, 3.004, 0.0, 9)
    assert len(disk_cells(43.184, 3.004, 0.0, 9)) <= 7
    for bad in (-1.0, math.nan, math.inf):
        with pytest.raises(ValueError):
            disk_cells(43.184, 3.004, bad, 9)


def test_disk_cells_returns_canonical_h3_strings() -> None:
    cover = disk_cells(43.184, 3.004, 800.0, 9)
    assert isinstance(cover, frozenset)
    assert all(h3.is_valid_cell(c) and h3.get_resolution(c) == 9 for c in cover)
    assert all(c == h3.int_to_str(h3.str_to_int(c)) for c in cover)
