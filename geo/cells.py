"""Great-circle distance and H3 cell helpers.

Cell ids are H3 strings at the API; internally the disk cover works on the
integer form because h3-py spends most of its time converting strings.
"""

from __future__ import annotations

import math
from functools import lru_cache

import h3
from h3.api import basic_int as h3i

# The IUGG mean Earth radius: the best single sphere for city-scale
# distances. The test oracles import haversine_m from here, so every
# distance in the project agrees on it.
EARTH_RADIUS_M = 6_371_008.8

# Added to every cell's circumradius before pruning: the H3 geometry and
# our haversine disagree by floating-point noise only, so 1 % + 1 m is ample
# and costs a negligible amount of tightness.
_REACH_FACTOR = 1.01
_REACH_SLACK_M = 1.0


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres on a sphere of EARTH_RADIUS_M."""
    p1 = math.radians(lat1)
    p2 = math.radians(lat2)
    s_dp = math.sin((p2 - p1) * 0.5)
    s_dl = math.sin(math.radians(lon2 - lon1) * 0.5)
    a = s_dp * s_dp + math.cos(p1) * math.cos(p2) * s_dl * s_dl
    # Rounding can push a past 1 for antipodal points; asin would raise.
    return 2.0 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, a)))


def cell_of(lat: float, lon: float, res: int) -> str:
    """The H3 cell (string id) containing (lat, lon) at resolution res."""
    cell: str = h3.latlng_to_cell(lat, lon, res)
    return cell


def cell_center(cell: str) -> tuple[float, float]:
    """(lat, lon) of the cell's centre."""
    lat, lon = h3.cell_to_latlng(cell)
    return float(lat), float(lon)


def cell_boundary(cell: str) -> list[tuple[float, float]]:
    """(lat, lon) vertices of the cell, as h3.cell_to_boundary gives them."""
    return [(float(lat), float(lon)) for lat, lon in h3.cell_to_boundary(cell)]


@lru_cache(maxsize=1 << 16)
def _geometry(cell: int) -> tuple[float, float, float, float]:
    """(lat rad, lon rad, cos lat, reach m) of an integer cell.

    reach bounds the distance from the centre to any point of the cell: H3
    edges are great-circle arcs (gnomonic projection), and along an arc the
    distance to a fixed point peaks at an endpoint, so the farthest vertex
    is the farthest point (cell_to_boundary includes the extra vertices of
    cells that straddle an icosahedron edge).
    """
    lat, lon = h3i.cell_to_latlng(cell)
    reach = max(haversine_m(lat, lon, vlat, vlon) for vlat, vlon in h3i.cell_to_boundary(cell))
    phi = math.radians(lat)
    return phi, math.radians(lon), math.cos(phi), reach * _REACH_FACTOR + _REACH_SLACK_M


def cell_reach_m(cell: str) -> float:
    """An upper bound of the distance from the cell's centre to any of its
    points (metres)."""
    return _geometry(h3i.str_to_int(cell))[3]


def disk_cells(lat: float, lon: float, radius_m: float, res: int) -> frozenset[str]:
    """Cells at res that together cover every point within radius_m of (lat, lon).

    A superset cover: a cell is dropped only when the distance to its centre
    minus its reach exceeds radius_m, i.e. when no point of it can be in the
    disk. Rings are walked outwards from the centre's cell until one ring is
    entirely dropped: the cells meeting a disk form a connected patch around
    the origin cell, so nothing beyond such a ring can meet the disk either.
    That stopping rule needs no global bound on H3's cell-size distortion.
    """
    if not (radius_m >= 0.0 and math.isfinite(radius_m)):
        raise ValueError(f"radius_m must be a finite number >= 0, got {radius_m!r}")
    origin: int = h3i.latlng_to_cell(lat, lon, res)
    phi0 = math.radians(lat)
    lam0 = math.radians(lon)
    cos0 = math.cos(phi0)
    two_r = 2.0 * EARTH_RADIUS_M
    out = [format(origin, "x")]
    k = 1
    while True:
        kept = False
        for cell in h3i.grid_ring(origin, k):
            phi, lam, cos1, reach = _geometry(cell)
            s_dp = math.sin((phi - phi0) * 0.5)
            s_dl = math.sin((lam - lam0) * 0.5)
            a = s_dp * s_dp + cos0 * cos1 * s_dl * s_dl
            if two_r * math.asin(math.sqrt(min(1.0, a))) - reach <= radius_m:
                # format(, "x") is H3's canonical string form, without the
                # per-cell overhead of h3.int_to_str.
                out.append(format(cell, "x"))
                kept = True
        if not kept:
            return frozenset(out)
        k += 1
