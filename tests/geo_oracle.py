"""Brute-force geometry oracles for tests: slow, obvious, no index.

Import from tests as `from geo_oracle import oracle_sector, ...` (pytest puts
tests/ on sys.path because it has no __init__.py).
"""

from __future__ import annotations

import math
import random

from geo import City
from geo.cells import EARTH_RADIUS_M, haversine_m
from geo.polygon import point_in_polygon

__all__ = [
    "EARTH_RADIUS_M",
    "destination",
    "haversine_m",
    "oracle_sector",
    "oracle_sectors_within",
    "random_point_in_disk",
]


def oracle_sector(city: City, lat: float, lon: float) -> str | None:
    """The first sector, in file order, whose polygons contain the point.

    Scans every sector and every polygon with the exact point_in_polygon,
    skipping the bounding boxes and the H3 index that City.sector_of uses.
    """
    for sector in city.sectors:
        if any(point_in_polygon(lon, lat, polygon) for polygon in sector.polygons):
            return sector.id
    return None


def destination(lat: float, lon: float, bearing_deg: float, distance_m: float) -> tuple[float, float]:
    """(lat, lon) reached by travelling distance_m along a great circle."""
    d = distance_m / EARTH_RADIUS_M
    b = math.radians(bearing_deg)
    p1 = math.radians(lat)
    l1 = math.radians(lon)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2))
    lon2 = (math.degrees(l2) + 540.0) % 360.0 - 180.0
    return math.degrees(p2), lon2


def random_point_in_disk(rng: random.Random, lat: float, lon: float, radius_m: float) -> tuple[float, float]:
    """A point uniformly distributed by area within radius_m (haversine) of (lat, lon)."""
    if radius_m <= 0.0:
        return lat, lon
    for _ in range(1000):
        p = destination(lat, lon, rng.uniform(0.0, 360.0), radius_m * math.sqrt(rng.random()))
        # destination() and haversine_m() round differently: a point drawn
        # at the very rim can measure a hair outside; draw again.
        if haversine_m(lat, lon, p[0], p[1]) <= radius_m:
            return p
    return lat, lon  # a sub-ulp radius: only the centre is surely in the disk


def oracle_sectors_within(
    city: City, lat: float, lon: float, radius_m: float, samples: int = 2000, seed: int = 0
) -> set[str]:
    """Sectors hit by random points of the disk: a SUBSET of the true answer.

    Good for asserting that a routing table includes at least these sectors.
    """
    rng = random.Random(seed)
    found: set[str] = set()
    for _ in range(samples):
        sid = oracle_sector(city, *random_point_in_disk(rng, lat, lon, radius_m))
        if sid is not None:
            found.add(sid)
    return found
