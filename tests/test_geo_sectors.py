"""geo.city_file and geo.city: the H3-indexed City.sector_of against a brute-force oracle,
sectors-file validation, and the bundled demo city."""

from __future__ import annotations

import itertools
import json
import math
import random
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h3
import pytest
from geo_oracle import destination, oracle_sector
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo import DEMO_CITY_PATH, City, Sector, SectorFileError, cell_of, load_city, parse_city
from geo.polygon import Polygon, Ring, point_in_polygon, signed_area

REPRODUCIBLE = settings(database=None, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
BATCH = 500

# -- a synthetic city: MultiPolygon, holes, a sector inside a hole ------------
# Near Oslo (60 N) so that H3 cells are shaped differently from Narbonne's.
LON0, LAT0, UNIT = 10.70, 59.90, 0.01


def _ring(*xy: tuple[float, float]) -> list[list[float]]:
    pts = [[round(LON0 + x * UNIT, 9), round(LAT0 + y * UNIT, 9)] for x, y in xy]
    return [*pts, pts[0]]


def _feature(sid: str, geometry_type: str, coords: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"id": sid, "name": sid.title()},
        "geometry": {"type": geometry_type, "coordinates": coords},
    }


SYNTHETIC: dict[str, Any] = {
    "type": "FeatureCollection",
    "features": [
        # A square with a square hole.
        _feature("donut", "Polygon", [_ring((0, 0), (4, 0), (4, 4), (0, 4)), _ring((1, 1), (1, 3), (3, 3), (3, 1))]),
        # Inside the hole, leaving a moat that belongs to no sector.
        _feature("island", "Polygon", [_ring((2, 1.3), (2.7, 2), (2, 2.7), (1.3, 2))]),
        _feature(
            "archipelago",
            "MultiPolygon",
            [
                [_ring((4, 0), (6, 0), (6, 4), (4, 4))],  # shares the edge x=4 with donut
                [_ring((8, 1), (9, 1), (8.5, 2))],
                [_ring((7, 3), (9, 3), (9, 5), (7, 5)), _ring((7.5, 3.5), (7.5, 4.5), (8.5, 4.5), (8.5, 3.5))],
            ],
        ),
        # Concave, sharing donut's top edge.
        _feature("star", "Polygon", [_ring((0, 4), (4, 4), (3.5, 5), (4.5, 6.5), (2, 5.5), (-0.5, 6.5), (0.5, 5))]),
        # Smaller than a cell at every index resolution tested.
        _feature("tiny", "Polygon", [_ring((5, 5), (5.05, 5), (5.025, 5.05))]),
        # A slanted sliver narrower than a res-9 cell.
        _feature("sliver", "Polygon", [_ring((0, -1), (6, -0.2), (6, -0.18), (0, -0.98))]),
    ],
}

# Sectors that overlap (one nested without a hole, two crossing): not a sane
# file, but the index must still agree with a first-match linear scan.
OVERLAPPING: dict[str, Any] = {
    "type": "FeatureCollection",
    "features": [
        _feature("small", "Polygon", [_ring((1, 1), (2, 1), (2, 2), (1, 2))]),
        _feature("big", "Polygon", [_ring((0, 0), (4, 0), (4, 4), (0, 4))]),
        _feature("crossing", "Polygon", [_ring((3, 3), (6, 2.5), (6, 6), (3.5, 6))]),
    ],
}


def _cities() -> dict[str, City]:
    return {
        "demo": load_city(DEMO_CITY_PATH),
        "synthetic": parse_city(SYNTHETIC, "synthetic"),
        "synthetic-r7": parse_city(SYNTHETIC, "synthetic", index_res=7),
        "synthetic-r11": parse_city(SYNTHETIC, "synthetic", index_res=11),
        "overlapping": parse_city(OVERLAPPING, "overlapping", index_res=10),
    }


CITIES = _cities()


# -- point generators ----------------------------------------------------------


def _all_rings(city: City) -> list[Ring]:
    return [ring for s in city.sectors for polygon in s.polygons for ring in polygon]


def _holes(city: City) -> list[Ring]:
    return [ring for s in city.sectors for polygon in s.polygons for ring in polygon[1:]]


def _near_edge(rng: random.Random, rings: list[Ring]) -> tuple[float, float]:
    """A point on a random ring edge, moved by a random vector of <= 1 m."""
    ring = rng.choice(rings)
    i = rng.randrange(len(ring) - 1)
    (x1, y1), (x2, y2) = ring[i], ring[i + 1]
    t = rng.choice([0.0, 1.0, 0.5, rng.random(), rng.random(), rng.random()])
    lat, lon = y1 + (y2 - y1) * t, x1 + (x2 - x1) * t
    offset = rng.choice([0.0, 1e-6, rng.random(), rng.random()])
    return destination(lat, lon, rng.uniform(0.0, 360.0), offset) if offset else (lat, lon)


def _in_box(rng: random.Random, ring: Ring) -> tuple[float, float]:
    lons = [p[0] for p in ring]
    lats = [p[1] for p in ring]
    return rng.uniform(min(lats), max(lats)), rng.uniform(min(lons), max(lons))


def _near_cell_vertex(rng: random.Random, city: City, lat: float, lon: float) -> tuple[float, float]:
    vlat, vlon = rng.choice(h3.cell_to_boundary(cell_of(lat, lon, city.index_res)))
    return destination(vlat, vlon, rng.uniform(0.0, 360.0), rng.random())


def _point(rng: random.Random, city: City, kinds: Counter[str]) -> tuple[float, float]:
    s, w, n, e = city.bounds
    dy, dx = (n - s) * 0.1, (e - w) * 0.1
    roll = rng.random()
    holes = _holes(city)
    if roll < 0.25:
        kinds["bounds"] += 1
        return rng.uniform(s - dy, n + dy), rng.uniform(w - dx, e + dx)
    if roll < 0.65:
        kinds["edge"] += 1
        return _near_edge(rng, _all_rings(city))
    if roll < 0.8 and holes:
        kinds["hole"] += 1
        return _in_box(rng, rng.choice(holes))
    if roll < 0.9:
        kinds["cell-vertex"] += 1
        return _near_cell_vertex(rng, city, *_near_edge(rng, _all_rings(city)))
    kinds["random_point"] += 1
    return city.random_point(rng)


# -- the property: index == brute force -------------------------------------------


@pytest.mark.parametrize(
    ("name", "examples"),
    [("demo", 100), ("synthetic", 60), ("synthetic-r7", 20), ("synthetic-r11", 20), ("overlapping", 10)],
)
def test_sector_of_agrees_with_brute_force(name: str, examples: int) -> None:
    city = CITIES[name]
    kinds: Counter[str] = Counter()
    checked = 0

    @settings(REPRODUCIBLE, max_examples=examples)
    @given(seed=st.integers(0, 2**64 - 1))
    def batch(seed: int) -> None:
        nonlocal checked
        rng = random.Random(seed)
        for _ in range(BATCH):
            lat, lon = _point(rng, city, kinds)
            assert city.sector_of(lat, lon) == oracle_sector(city, lat, lon), (name, lat, lon)
        checked += BATCH

    batch()
    # 105,000 points over all parameters; each kind must really have been drawn.
    assert checked >= examples * BATCH
    assert kinds["edge"] > checked // 4
    if _holes(city):
        assert kinds["hole"] > checked // 20


@settings(REPRODUCIBLE, max_examples=1500)
@given(
    city_name=st.sampled_from(["demo", "synthetic", "synthetic-r7"]),
    ring_pick=st.integers(0, 10**6),
    edge_pick=st.integers(0, 10**6),
    t=st.floats(0.0, 1.0),
    bearing=st.floats(0.0, 360.0),
    offset_m=st.one_of(st.just(0.0), st.floats(0.0, 1.0)),
)
def test_sector_of_near_edges_shrinkable(
    city_name: str, ring_pick: int, edge_pick: int, t: float, bearing: float, offset_m: float
) -> None:
    """The same property with every choice drawn by hypothesis, so a failure shrinks."""
    city = CITIES[city_name]
    rings = _all_rings(city)
    ring = rings[ring_pick % len(rings)]
    i = edge_pick % (len(ring) - 1)
    (x1, y1), (x2, y2) = ring[i], ring[i + 1]
    lat, lon = destination(y1 + (y2 - y1) * t, x1 + (x2 - x1) * t, bearing, offset_m)
    assert city.sector_of(lat, lon) == oracle_sector(city, lat, lon)


def test_synthetic_city_semantics() -> None:
    city = CITIES["synthetic"]

    def at(x: float, y: float) -> str | None:
        return city.sector_of(LAT0 + y * UNIT, LON0 + x * UNIT)

    assert at(0.5, 0.5) == "donut"
    assert at(1.1, 1.1) is None  # in the hole, outside the island
    assert at(2.0, 2.0) == "island"
    assert at(5.0, 2.0) == "archipelago"
    assert at(8.5, 1.3) == "archipelago"
    assert at(7.2, 3.2) == "archipelago"
    assert at(8.0, 4.0) is None  # the archipelago's own hole
    assert at(2.0, 4.5) == "star"
    assert at(2.0, 6.3) is None  # between two spikes of the star
    assert at(5.025, 5.01) == "tiny"
    assert at(3.0, -0.59) == "sliver"
    assert at(3.0, -0.5) is None
    assert at(20.0, 20.0) is None
    assert CITIES["overlapping"].sector_of(LAT0 + 1.5 * UNIT, LON0 + 1.5 * UNIT) == "small"


def test_sector_of_handles_garbage_coordinates() -> None:
    city = CITIES["demo"]
    for lat, lon in [(math.nan, 3.0), (43.18, math.nan), (math.inf, 3.0), (91.0, 3.0), (43.18, 200.0)]:
        assert city.sector_of(lat, lon) is None


def test_point_in_polygon_matches_rectangles() -> None:
    """An independent check of the exact test on axis-aligned shapes."""
    outer: Ring = ((0.0, 0.0), (10.0, 0.0), (10.0, 6.0), (0.0, 6.0), (0.0, 0.0))
    hole: Ring = ((2.0, 2.0), (2.0, 4.0), (5.0, 4.0), (5.0, 2.0), (2.0, 2.0))
    polygon: Polygon = (outer, hole)
    rng = random.Random(5)
    for _ in range(20_000):
        x, y = rng.uniform(-1, 11), rng.uniform(-1, 7)
        expected = (0 < x < 10 and 0 < y < 6) and not (2 < x < 5 and 2 < y < 4)
        on_an_edge = x in (0, 2, 5, 10) or y in (0, 2, 4, 6)
        if not on_an_edge:
            assert point_in_polygon(x, y, polygon) == expected, (x, y)


# -- malformed files ----------------------------------------------------------------


def _fc(*features: Any) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


GOOD_RING = [[3.0, 43.0], [3.1, 43.0], [3.1, 43.1], [3.0, 43.1], [3.0, 43.0]]
GOOD = _feature("a", "Polygon", [GOOD_RING])


def _second(mutate: Callable[[dict[str, Any]], None], sid: str = "b") -> dict[str, Any]:
    """A collection whose second feature (id sid) is made bad by mutate."""
    feature = json.loads(json.dumps(_feature(sid, "Polygon", [[[x + 1, y] for x, y in GOOD_RING]])))
    mutate(feature)
    return _fc(GOOD, feature)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(feature: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = feature
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        if value is _DELETE:
            del node[last]
        elif last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


_DELETE = object()
F1 = "features[1]"
F1B = "features[1] (id 'b')"

# (label, file content: bytes/str written as is, anything else as JSON, expected substrings)
MALFORMED: list[tuple[str, Any, list[str]]] = [
    ("not-json", "{ this is not json", ["not valid JSON", "line 1"]),
    ("empty-file", "", ["not valid JSON"]),
    ("nan-token", '{"type": "FeatureCollection", "features": [NaN]}', ["not valid JSON", "NaN"]),
    ("not-utf8", b'{"type": "FeatureCollection", "name": "\xff\xfe"}', ["not UTF-8"]),
    ("array", [GOOD], ["expected a GeoJSON FeatureCollection object, got an array"]),
    ("a-feature", GOOD, ["'FeatureCollection'", "'Feature'"]),
    ("geometry-collection", {"type": "GeometryCollection", "geometries": []}, ["'FeatureCollection'"]),
    ("no-features", {"type": "FeatureCollection"}, ["'features' must be an array"]),
    ("features-object", {"type": "FeatureCollection", "features": {}}, ["'features' must be an array"]),
    ("zero-features", _fc(), ["empty", "at least one sector"]),
    ("feature-number", _fc(GOOD, 42), [F1, "expected a Feature object"]),
    ("feature-type", _second(_set("type", "Point")), [F1B, "type must be 'Feature'"]),
    ("no-properties", _second(_set("properties", _DELETE)), [F1, "properties must be an object"]),
    ("no-id", _second(_set("properties.id", _DELETE)), [F1, "properties.id", "missing"]),
    ("numeric-id", _second(_set("properties.id", 7)), [F1, "properties.id", "7"]),
    ("blank-id", _second(_set("properties.id", "  ")), [F1, "properties.id"]),
    ("no-name", _second(_set("properties.name", _DELETE)), [F1B, "properties.name", "missing"]),
    ("empty-name", _second(_set("properties.name", "")), [F1B, "properties.name"]),
    ("duplicate-id", _second(lambda f: None, sid="a"), ["features[1] (id 'a')", "duplicate", "features[0]"]),
    ("null-geometry", _second(_set("geometry", None)), [F1B, "geometry must be", "null"]),
    ("point", _second(_set("geometry", {"type": "Point", "coordinates": [3, 43]})), [F1B, "'Point'"]),
    ("linestring", _second(_set("geometry.type", "LineString")), [F1B, "'LineString'"]),
    ("no-coordinates", _second(_set("geometry.coordinates", _DELETE)), [F1B, "non-empty array of rings"]),
    ("no-rings", _second(_set("geometry.coordinates", [])), [F1B, "non-empty array of rings"]),
    ("ring-not-array", _second(_set("geometry.coordinates.0", "ring")), [F1B, "geometry.coordinates[0]"]),
    (
        "three-positions",
        _second(_set("geometry.coordinates.0", [[4, 43], [4.1, 43], [4, 43]])),
        [F1B, "geometry.coordinates[0]", "3 positions", "at least 4"],
    ),
    (
        "open-ring",
        _second(_set("geometry.coordinates.0", [[4, 43], [4.1, 43], [4.1, 43.1], [4, 43.1]])),
        [F1B, "not closed"],
    ),
    ("string-coordinate", _second(_set("geometry.coordinates.0.1", ["4.1", 43.0])), [F1B, "must be a number"]),
    ("bool-coordinate", _second(_set("geometry.coordinates.0.1", [4.1, True])), [F1B, "latitude must be a number"]),
    ("null-coordinate", _second(_set("geometry.coordinates.0.2", [None, 43.1])), [F1B, "longitude must be a number"]),
    ("one-number", _second(_set("geometry.coordinates.0.1", [4.1])), [F1B, "[lon, lat]", "[0][1]"]),
    ("object-position", _second(_set("geometry.coordinates.0.1", {"lon": 4.1})), [F1B, "[lon, lat]"]),
    ("lon-out-of-range", _second(_set("geometry.coordinates.0.2", [200.0, 43.1])), [F1B, "longitude 200.0"]),
    ("lat-out-of-range", _second(_set("geometry.coordinates.0.2", [4.1, 95.0])), [F1B, "latitude 95.0"]),
    (
        "collinear-ring",
        _second(_set("geometry.coordinates.0", [[4, 43], [4.1, 43], [4.2, 43], [4, 43]])),
        [F1B, "zero area"],
    ),
    (
        "antimeridian",
        _second(_set("geometry.coordinates.0", [[179, 0], [-179, 0], [-179, 1], [179, 1], [179, 0]])),
        [F1B, "antimeridian"],
    ),
    (
        "bad-hole",
        _second(lambda f: f["geometry"]["coordinates"].append([[4.02, 43.02], [4.05, 43.02], [4.02, 43.02]])),
        [F1B, "geometry.coordinates[1]", "3 positions"],
    ),
    (
        "empty-multipolygon",
        _second(_set("geometry", {"type": "MultiPolygon", "coordinates": []})),
        [F1B, "MultiPolygon"],
    ),
    (
        "bad-second-polygon",
        _second(
            _set(
                "geometry",
                {"type": "MultiPolygon", "coordinates": [[GOOD_RING], [[[5, 43], [5.1, 43], [5.1, 43.1], [5, 43.2]]]]},
            )
        ),
        [F1B, "geometry.coordinates[1][0]", "not closed"],
    ),
]


@pytest.mark.parametrize(("label", "content", "expected"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_sectors_file_is_rejected_with_a_precise_message(
    tmp_path: Path, label: str, content: Any, expected: list[str]
) -> None:
    path = tmp_path / f"{label}.geojson"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_text(json.dumps(content), encoding="utf-8")
    with pytest.raises(SectorFileError) as info:
        load_city(path)
    message = str(info.value)
    assert str(path) in message
    for fragment in expected:
        assert fragment in message, (fragment, message)
    assert info.value.path == str(path)


def test_missing_file_is_a_sector_file_error(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.geojson"
    with pytest.raises(SectorFileError, match="cannot read") as info:
        load_city(path)
    assert str(path) in str(info.value)


def test_in_memory_data_errors_name_the_source_and_feature() -> None:
    data = _second(_set("geometry.coordinates.0.1", [math.nan, 43.0]))
    with pytest.raises(SectorFileError) as info:
        parse_city(data, "upload.geojson")
    assert str(info.value).startswith("upload.geojson: features[1] (id 'b'): ")
    assert "finite" in str(info.value)
    assert (info.value.feature_index, info.value.feature_id) == (1, "b")


def test_city_constructor_rejects_nonsense() -> None:
    sector = CITIES["demo"].sectors[0]
    with pytest.raises(ValueError):
        City([])
    with pytest.raises(ValueError):
        City([sector, sector])
    with pytest.raises(ValueError):
        City([sector], index_res=16)
    with pytest.raises(ValueError):
        Sector("x", "X", ())


# -- the demo city ---------------------------------------------------------------------


def _local_area_m2(ring: Ring, lat0: float) -> float:
    k = math.radians(1.0) * 6_371_008.8
    return abs(signed_area(ring)) * k * k * math.cos(math.radians(lat0))


def test_demo_city_loads_quickly_and_has_8_sectors() -> None:
    start = time.perf_counter()
    city = load_city(DEMO_CITY_PATH)
    assert time.perf_counter() - start < 2.0
    assert len(city.sectors) == 8
    assert city.sector_ids == ("centre", "bourg", "saint-jean", "razimbaud", "hauts", "roches-grises", "est", "plage")
    assert city.names["saint-jean"] == "Saint-Jean – Saint-Pierre"
    assert city.names["plage"] == "Narbonne-Plage"
    assert "approximate" in json.loads(DEMO_CITY_PATH.read_text(encoding="utf-8"))["description"]


def test_demo_city_landmarks() -> None:
    city = CITIES["demo"]
    assert city.sector_of(43.184, 3.004) == "centre"  # town centre
    assert city.sector_of(43.178, 3.004) == "bourg"
    assert city.sector_of(43.163, 3.150) == "plage"
    assert city.sector_of(43.1, 3.4) is None  # the sea, far east
    assert city.sector_of(43.160, 3.100) is None  # between the town and the beach
    south, west, north, east = city.bounds
    assert south < 43.184 < north and west < 3.004 < east


def test_demo_city_shape_rules() -> None:
    city = CITIES["demo"]
    total = 0.0
    for sector in city.sectors:
        assert len(sector.polygons) == 1 and len(sector.polygons[0]) == 1, sector.id
        ring = sector.polygons[0][0]
        assert 5 <= len(ring) - 1 <= 15, sector.id
        assert len(set(ring)) == len(ring) - 1, sector.id
        assert signed_area(ring) > 0, f"{sector.id} is not counter-clockwise (RFC 7946)"
        assert _is_simple(ring), sector.id
        total += _local_area_m2(ring, 43.18)
    assert 60e6 < total < 120e6, total


def _cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _is_simple(ring: Ring) -> bool:
    edges = list(itertools.pairwise(ring))
    for i, (a, b) in enumerate(edges):
        for j, (c, d) in enumerate(edges):
            if j <= i + 1 or (i == 0 and j == len(edges) - 1):
                continue
            if _cross(a, b, c) * _cross(a, b, d) < 0 and _cross(c, d, a) * _cross(c, d, b) < 0:
                return False
    return True


def test_demo_city_neighbours_share_edges_exactly() -> None:
    """Every town edge is either shared, reversed, by exactly one neighbour or on
    the outline; the outline is one closed loop; no vertex sits inside another
    sector's edge. Together: no overlaps, no slivers, no gaps inside the town."""
    town = [s for s in CITIES["demo"].sectors if s.id != "plage"]
    directed: Counter[tuple[tuple[float, float], tuple[float, float]]] = Counter()
    for sector in town:
        ring = sector.polygons[0][0]
        directed.update(itertools.pairwise(ring))
    assert max(directed.values()) == 1
    outline = [e for e in directed if (e[1], e[0]) not in directed]
    assert 0 < len(outline) < len(directed)
    succ = dict(outline)
    assert len(succ) == len(outline)
    start = outline[0][0]
    node, steps = succ[start], 1
    while node != start:
        node, steps = succ[node], steps + 1
    assert steps == len(outline)
    vertices = {p for e in directed for p in e}
    for a, b in directed:
        for v in vertices - {a, b}:
            on_line = abs(_cross(a, b, v)) < 1e-12
            within = min(a[0], b[0]) <= v[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= v[1] <= max(a[1], b[1])
            assert not (on_line and within), (a, b, v)


def test_demo_city_points_on_shared_edges_belong_to_exactly_one_sector() -> None:
    city = CITIES["demo"]
    directed = {e for s in city.sectors for r in s.polygons[0] for e in itertools.pairwise(r)}
    shared = [e for e in directed if (e[1], e[0]) in directed]
    rng = random.Random(11)
    for (x1, y1), (x2, y2) in shared:
        for _ in range(200):
            t = rng.random()
            lat, lon = y1 + (y2 - y1) * t, x1 + (x2 - x1) * t
            assert sum(s.contains(lat, lon) for s in city.sectors) == 1
            assert city.sector_of(lat, lon) is not None


def test_random_point_is_uniform_by_area() -> None:
    city = CITIES["demo"]
    rng = random.Random(2024)
    n = 20_000
    hits = Counter(city.sector_of(*city.random_point(rng)) for _ in range(n))
    assert None not in hits
    areas = {s.id: _local_area_m2(s.polygons[0][0], 43.18) for s in city.sectors}
    total = sum(areas.values())
    for sid, area in areas.items():
        assert hits[sid] / n == pytest.approx(area / total, abs=0.012), sid


def test_geojson_round_trip_and_fingerprint() -> None:
    city = CITIES["demo"]
    doc = city.geojson()
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == 8
    assert next(f["properties"] for f in doc["features"]) == {"id": "centre", "name": "Centre-ville"}
    json.dumps(doc)  # serialisable as is
    again = parse_city(doc, "round-trip")
    assert again.fingerprint == city.fingerprint == load_city(DEMO_CITY_PATH).fingerprint
    assert len(city.fingerprint) == 64
    doc["features"][3]["properties"]["name"] = "Razimbaud-Nord"
    assert parse_city(doc).fingerprint != city.fingerprint
    synthetic = CITIES["synthetic"]
    kinds = [f["geometry"]["type"] for f in synthetic.geojson()["features"]]
    assert kinds.count("MultiPolygon") == 1
    assert parse_city(synthetic.geojson()).fingerprint == synthetic.fingerprint
    # The index resolution is not part of what the city is.
    assert CITIES["synthetic-r7"].fingerprint == synthetic.fingerprint


@pytest.mark.parametrize("res", [7, 9, 10])
@pytest.mark.parametrize("name", ["demo", "synthetic", "overlapping"])
def test_cell_sectors_name_the_sector_of_every_point_of_the_cell(name: str, res: int) -> None:
    """City.cell_sectors (the routing of events to sector channels): the
    sector of any point, or that it is in none, is among what its cell says."""
    city = CITIES[name]
    rng = random.Random(res)
    rings = _all_rings(city)
    s, w, n, e = city.bounds
    inside = outside = 0
    for _ in range(6000):
        r = rng.random()
        if r < 0.5:
            lat, lon = _near_edge(rng, rings)
        elif r < 0.8:
            lat, lon = city.random_point(rng)
        else:  # around the city too
            lat, lon = rng.uniform(s - 0.02, n + 0.02), rng.uniform(w - 0.02, e + 0.02)
        sectors, may_be_outside = city.cell_sectors(cell_of(lat, lon, res))
        sid = oracle_sector(city, lat, lon)
        if sid is None:
            outside += 1
            assert may_be_outside, (lat, lon)
        else:
            inside += 1
            assert sid in sectors, (sid, lat, lon)
    assert inside > 2000 and outside > 200
    wholly = [c for c in city.sector_cells(city.sector_ids[0], res) if not city.cell_sectors(c)[1]]
    assert all(city.cell_sectors(c)[0] == {city.sector_ids[0]} for c in wholly)


@pytest.mark.parametrize("res", [7, 8, 9, 10])
@pytest.mark.parametrize("name", ["demo", "synthetic"])
def test_sector_cells_cover_their_sector(name: str, res: int) -> None:
    city = CITIES[name]
    rng = random.Random(res)
    covers = {sid: city.sector_cells(sid, res) for sid in city.sector_ids}
    assert all(h3.get_resolution(c) == res for cover in covers.values() for c in cover)
    rings = _all_rings(city)
    found = 0
    for _ in range(6000):
        lat, lon = _near_edge(rng, rings) if rng.random() < 0.6 else city.random_point(rng)
        sid = oracle_sector(city, lat, lon)
        if sid is not None:
            found += 1
            assert cell_of(lat, lon, res) in covers[sid], (sid, lat, lon)
    assert found > 2000
    assert city.sector_cells(city.sector_ids[0], res) is covers[city.sector_ids[0]]  # cached
    with pytest.raises(KeyError):
        city.sector_cells("nowhere", res)
