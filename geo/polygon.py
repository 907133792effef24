"""Planar ring and polygon math in GeoJSON order: x = longitude, y = latitude.

GeoJSON polygons are planar in lon/lat, so this is the exact semantics of a
sectors file: no geodesic edges, no projection.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

Position = tuple[float, float]
"""(lon, lat), as in GeoJSON."""
Ring = tuple[Position, ...]
"""Closed: the first position is repeated at the end."""
Polygon = tuple[Ring, ...]
"""Outer ring first, then its holes."""
BBox = tuple[float, float, float, float]
"""(south, west, north, east) in degrees."""


def point_in_ring(lon: float, lat: float, ring: Sequence[Position]) -> bool:
    """Even-odd ray casting towards +lon.

    Half-open on latitude, and each edge is evaluated from its lower end:
    an edge shared by two sectors (same vertices, opposite directions) then
    gives bit-identical answers in both, so a point on a shared edge lands in
    exactly one of them rather than in both or neither.
    """
    inside = False
    x1, y1 = ring[0]
    for x2, y2 in ring[1:]:
        if (y1 > lat) != (y2 > lat):
            if y1 < y2:
                x_cross = x1 + (lat - y1) * (x2 - x1) / (y2 - y1)
            else:
                x_cross = x2 + (lat - y2) * (x1 - x2) / (y1 - y2)
            if lon < x_cross:
                inside = not inside
        x1, y1 = x2, y2
    return inside


def point_in_polygon(lon: float, lat: float, polygon: Polygon) -> bool:
    """Even-odd over the outer ring and its holes: inside the outer, not in a hole."""
    inside = False
    for ring in polygon:
        if point_in_ring(lon, lat, ring):
            inside = not inside
    return inside


def point_in_polygons(lon: float, lat: float, polygons: Iterable[Polygon]) -> bool:
    """MultiPolygon semantics: inside any of the polygons."""
    return any(point_in_polygon(lon, lat, p) for p in polygons)


def signed_area(ring: Sequence[Position]) -> float:
    """Shoelace area in square degrees; positive when counter-clockwise."""
    total = 0.0
    x1, y1 = ring[0]
    for x2, y2 in ring[1:]:
        total += x1 * y2 - x2 * y1
        x1, y1 = x2, y2
    return total * 0.5


def bbox_of(rings: Iterable[Sequence[Position]]) -> BBox:
    """(south, west, north, east) of all positions of the rings."""
    south = west = float("inf")
    north = east = float("-inf")
    for ring in rings:
        for lon, lat in ring:
            south = min(south, lat)
            north = max(north, lat)
            west = min(west, lon)
            east = max(east, lon)
    if south > north:
        raise ValueError("bbox of no positions")
    return south, west, north, east


def union_bbox(boxes: Iterable[BBox]) -> BBox:
    south = west = float("inf")
    north = east = float("-inf")
    for s, w, n, e in boxes:
        south, west, north, east = min(south, s), min(west, w), max(north, n), max(east, e)
    if south > north:
        raise ValueError("union of no bboxes")
    return south, west, north, east


def widened(box: BBox, pad_deg: float = 1e-9) -> BBox:
    """box grown by pad_deg on every side, for prefilters.

    The crossing test interpolates longitudes, which may land a few ulps past
    the outermost vertex; a prefilter widened by far more than that can never
    change what point_in_polygon would have answered.
    """
    s, w, n, e = box
    return s - pad_deg, w - pad_deg, n + pad_deg, e + pad_deg
