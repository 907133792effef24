"""Drawn broadcast zones (issue 18): a GeoJSON Polygon, lon/lat, holes
allowed. Pure. `in_zone` is the one rule that decides whether a home is in
a zone: the preview's count, the broadcast's recipients, the live delivery
(core/audience.py) and the residents' history all call it.

A home ON the boundary (an outer edge or a hole's edge, within EDGE_DEG) is
inside: the zone is a closed set, so the drawn line itself is covered, as a
police perimeter includes the street it runs along. Off the boundary, the
even-odd rule of geo.polygon decides (the semantics of the sectors file)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from geo.cells import haversine_m
from geo.polygon import Polygon, Position, Ring, bbox_of, point_in_polygon, signed_area

# 1e-9 degrees is about 0.1 mm: far below the precision of a geocoded home,
# far above the rounding of the crossing test, so "on the line" is decided
# the same way whichever ring direction or vertex order was drawn.
EDGE_DEG = 1e-9
MAX_VERTICES = 1000  # all rings together: a hand-drawn zone has tens
MAX_RINGS = 50
MAX_EXTENT_M = 50_000  # the largest circle target's radius, for zones too
_M_PER_DEG = 111_320.0  # metres per degree of latitude (and of longitude at the equator)


class ZoneError(ValueError):
    """Why a polygon is refused; `code` is the API error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _position(raw: Any) -> Position:
    if not isinstance(raw, list) or len(raw) != 2:
        raise ZoneError("invalid_polygon", "each position is [lon, lat]")
    lon, lat = raw
    for v in (lon, lat):
        # bool is an int subclass in Python, but true is not a coordinate
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ZoneError("invalid_polygon", "coordinates must be finite numbers")
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ZoneError("out_of_range", "a position is outside lon -180..180, lat -90..90")
    return float(lon), float(lat)


def _ring(raw: Any) -> Ring:
    if not isinstance(raw, list) or len(raw) < 4:
        raise ZoneError("invalid_polygon", "each ring needs at least 4 positions")
    ring = tuple(_position(p) for p in raw)
    if ring[0] != ring[-1]:
        raise ZoneError("invalid_polygon", "each ring must be closed: its last position repeats its first")
    if signed_area(ring) == 0:
        raise ZoneError("invalid_polygon", "a ring encloses no area")
    return ring


def parse_polygon(raw: Any) -> Polygon:
    """A GeoJSON Polygon geometry -> rings of (lon, lat), outer first."""
    if not isinstance(raw, dict) or set(raw) != {"type", "coordinates"} or raw["type"] != "Polygon":
        raise ZoneError("invalid_polygon", 'polygon must be {"type": "Polygon", "coordinates": [...]}')
    rings = raw["coordinates"]
    if not isinstance(rings, list) or not rings:
        raise ZoneError("invalid_polygon", "coordinates must be a non-empty list of rings")
    if len(rings) > MAX_RINGS or sum(len(r) if isinstance(r, list) else 0 for r in rings) > MAX_VERTICES:
        raise ZoneError("too_large", f"a polygon has at most {MAX_VERTICES} positions and {MAX_RINGS} rings")
    polygon = tuple(_ring(r) for r in rings)
    outer = polygon[0]
    for hole in polygon[1:]:
        if not all(_in_ring_closed(lon, lat, outer) for lon, lat in hole):
            raise ZoneError("invalid_polygon", "a hole must lie inside the outer ring")
    if bounding_circle(polygon)[2] > MAX_EXTENT_M:
        raise ZoneError("too_large", f"a polygon must fit in a circle of {MAX_EXTENT_M} m radius")
    return polygon


def polygon_geojson(polygon: Polygon) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[lon, lat] for lon, lat in ring] for ring in polygon]}


def polygon_of(geojson: dict[str, Any]) -> Polygon:
    """The stored or event form (already validated) back to rings."""
    return tuple(tuple((float(p[0]), float(p[1])) for p in ring) for ring in geojson["coordinates"])


def _on_segment(lon: float, lat: float, a: Position, b: Position) -> bool:
    (x1, y1), (x2, y2) = a, b
    dx, dy = x2 - x1, y2 - y1
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((lon - x1) * dx + (lat - y1) * dy) / length2))
    return math.hypot(lon - (x1 + t * dx), lat - (y1 + t * dy)) <= EDGE_DEG


def on_boundary(lon: float, lat: float, rings: Sequence[Ring]) -> bool:
    return any(_on_segment(lon, lat, ring[i], ring[i + 1]) for ring in rings for i in range(len(ring) - 1))


def _in_ring_closed(lon: float, lat: float, ring: Ring) -> bool:
    return on_boundary(lon, lat, (ring,)) or point_in_polygon(lon, lat, (ring,))


def in_zone(lat: float, lon: float, polygon: Polygon) -> bool:
    """Whether a home (lat, lon) is in the zone: inside, or on its boundary."""
    south, west, north, east = bbox_of(polygon[:1])
    if not (south - EDGE_DEG <= lat <= north + EDGE_DEG and west - EDGE_DEG <= lon <= east + EDGE_DEG):
        return False
    return on_boundary(lon, lat, polygon) or point_in_polygon(lon, lat, polygon)


def area_m2(polygon: Polygon) -> float:
    """The outer ring's area less its holes', in square metres on a local
    equirectangular projection (exact enough at a town's scale)."""
    south, _w, north, _e = bbox_of(polygon[:1])
    scale = _M_PER_DEG * _M_PER_DEG * math.cos(math.radians((south + north) / 2))
    outer, *holes = (abs(signed_area(r)) for r in polygon)
    return max(0.0, outer - sum(holes)) * scale


def bounding_circle(polygon: Polygon) -> tuple[float, float, float]:
    """(lat, lon, radius_m) of a circle holding the whole outer ring, for
    routing (a superset of the zone's channels is all it needs)."""
    south, west, north, east = bbox_of(polygon[:1])
    lat, lon = (south + north) / 2, (west + east) / 2
    radius = max(haversine_m(lat, lon, plat, plon) for plon, plat in polygon[0])
    return lat, lon, radius * 1.01 + 10.0  # the planar edges bulge past the great circle by far less
