"""H3 acceleration index for exact point-in-sector lookups.

A cell that no ring edge touches lies wholly on one side of every edge, so
its centre decides it. Only cells an edge may cross ("boundary" cells) need
the exact point-in-polygon test at query time, and only against the shapes
that can reach them. Cells are integers here: h3-py is markedly faster on
them than on strings.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

import h3
from h3.api import basic_int as h3i

from geo.cells import EARTH_RADIUS_M
from geo.polygon import BBox, Polygon, Position, bbox_of, point_in_polygons

Shape = Sequence[Polygon]
"""The polygons of one sector (one for a Polygon, several for a MultiPolygon)."""

# Edge samples are at most (mean H3 edge length / 8) apart. A point on an
# edge is then within 1/16 of an edge length of a sample, far less than the
# gap between two non-adjacent cells (at least about one edge length even
# where H3 distorts most), so its cell is the sample's cell or a neighbour.
_SAMPLES_PER_EDGE_LENGTH = 8


@dataclass(frozen=True, eq=False)
class CellIndex:
    res: int
    interior: dict[int, int]
    """cell -> index of the only shape it lies in (wholly)."""
    boundary: dict[int, tuple[int, ...]]
    """cell -> indices, in shape order, of every shape that may contain part of it."""


def _containing(shapes: Sequence[Shape], boxes: Sequence[BBox], lat: float, lon: float) -> list[int]:
    return [
        i
        for i, (shape, (s, w, n, e)) in enumerate(zip(shapes, boxes, strict=True))
        if s <= lat <= n and w <= lon <= e and point_in_polygons(lon, lat, shape)
    ]


def edge_cells(ring: Sequence[Position], res: int) -> set[int]:
    """Cells of samples taken densely along the ring's edges, straight in lon/lat."""
    step_m = h3.average_hexagon_edge_length(res, "m") / _SAMPLES_PER_EDGE_LENGTH
    cells: set[int] = set()
    for (x1, y1), (x2, y2) in pairwise(ring):
        dx = x2 - x1
        dy = y2 - y1
        # A degree of longitude is longest where |lat| is smallest: bounding
        # the metric by that latitude can only over-sample.
        cos_max = 1.0 if y1 * y2 <= 0.0 else math.cos(math.radians(min(abs(y1), abs(y2))))
        length_m = math.radians(math.hypot(dy, dx * cos_max)) * EARTH_RADIUS_M
        n = max(1, math.ceil(length_m / step_m))
        for i in range(n + 1):
            t = i / n
            cells.add(h3i.latlng_to_cell(y1 + dy * t, x1 + dx * t, res))
    return cells


def _near_edges(shapes: Sequence[Shape], res: int) -> dict[int, set[int]]:
    """cell -> shapes with an edge in or next to it (grid_disk k=1 is the margin)."""
    near: dict[int, set[int]] = {}
    for i, shape in enumerate(shapes):
        sampled: set[int] = set()
        for polygon in shape:
            for ring in polygon:
                sampled |= edge_cells(ring, res)
        for cell in sampled:
            for neighbour in h3i.grid_disk(cell, 1):
                near.setdefault(neighbour, set()).add(i)
    return near


def build_index(shapes: Sequence[Shape], res: int) -> CellIndex:
    """Classify every cell meeting a shape as interior (one owner) or boundary.

    Interior cells are found by flood fill from the boundary: adjacent
    non-boundary cells share their membership, so every patch of interior
    cells is enclosed by boundary cells, and filling outwards from them
    reaches all of it without depending on h3's own polyfill conventions.
    A cell outside every shape is a dead end; it stays out of both maps.
    """
    boxes = [bbox_of(ring for polygon in shape for ring in polygon) for shape in shapes]
    near = _near_edges(shapes, res)
    boundary: dict[int, tuple[int, ...]] = {}
    for cell, reaching in near.items():
        # A shape whose edges keep away from the cell yet contains its centre
        # contains all of it (overlapping shapes), so it is a candidate too.
        lat, lon = h3i.cell_to_latlng(cell)
        found = reaching.union(_containing(shapes, boxes, lat, lon))
        boundary[cell] = tuple(sorted(found))

    interior: dict[int, int] = {}
    seen: set[int] = set(boundary)
    frontier: list[int] = list(_unseen_neighbours(boundary, seen))
    while frontier:
        cell = frontier.pop()
        if cell in seen:
            continue
        seen.add(cell)
        lat, lon = h3i.cell_to_latlng(cell)
        owners = _containing(shapes, boxes, lat, lon)
        if not owners:
            continue
        # Overlapping shapes: the first in file order wins, as in a linear scan.
        interior[cell] = owners[0]
        frontier.extend(n for n in h3i.grid_disk(cell, 1) if n not in seen)
    return CellIndex(res=res, interior=interior, boundary=boundary)


def _unseen_neighbours(cells: Iterable[int], seen: set[int]) -> set[int]:
    out: set[int] = set()
    for cell in cells:
        out.update(n for n in h3i.grid_disk(cell, 1) if n not in seen)
    return out
