"""Who must receive an event. Pure.

Two forms of the same rule, side by side so they cannot drift apart:
`resident_wants` decides for one resident (used when replaying from the
store), and `resident_audience` finds everyone at once over a `HomeIndex` for
the live path, with H3 cells as the spatial index: the disk cover only picks the
candidates, the exact great-circle distance decides."""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Iterator, Mapping
from functools import lru_cache
from typing import Any, Generic, TypeVar

import h3
import numpy as np

from dispatch.core.model import Home
from dispatch.core.outbox import Fanout, Nearby
from dispatch.core.zones import bounding_circle, in_zone, polygon_of
from geo import cell_center, cell_of, disk_cells, haversine_m
from geo.cells import EARTH_RADIUS_M
from geo.polygon import Polygon

K = TypeVar("K", bound=Hashable)

# H3 resolution of the homes index: edges of about 530 m, so a 500 m disk is
# covered by one cell and its first ring or two.
INDEX_RES = 8


def within(lat1: float, lon1: float, lat2: float, lon2: float, radius_m: float) -> bool:
    return haversine_m(lat1, lon1, lat2, lon2) <= radius_m


def broadcast_reaches(data: dict[str, Any], lat: float, lon: float, sector: str | None) -> bool:
    """Whether a broadcast (its staff view, an event's data) reaches a home:
    the home's sector is a target, or the home is in its circle or zone."""
    circle = data.get("circle")
    if circle is not None:
        return within(lat, lon, circle["lat"], circle["lon"], circle["radius_m"])
    polygon = data.get("polygon")
    if polygon is not None:
        return in_zone(lat, lon, polygon_of(polygon))
    return sector is not None and sector in data.get("sectors", ())


def resident_wants(event_type: str, data: dict[str, Any], home: Home, radius_m: float) -> bool:
    """The rule of /ws/resident (docs/reference.md), for one resident and one event."""
    if event_type in ("alert.created", "alert.removed", "alert.text"):
        same_sector = home.sector is not None and data["sector"] == home.sector
        if same_sector or within(home.lat, home.lon, data["lat"], data["lon"], radius_m):
            return True
        # the author had it in their own list
        return event_type != "alert.created" and data.get("author") == home.user_id
    if event_type == "broadcast.sent":
        return broadcast_reaches(data, home.lat, home.lon, home.sector)
    if event_type == "alert.status":
        return bool(data.get("author") == home.user_id)
    return False


@lru_cache(maxsize=16)
def _circumradius_m(res: int) -> float:
    # the largest centre-to-vertex distance of any cell at `res`, measured on
    # the base cells' children (pentagon-distorted cells are the largest)
    worst = 0.0
    for base in h3.get_res0_cells():
        cell = h3.cell_to_center_child(base, res)
        lat, lon = h3.cell_to_latlng(cell)
        for vlat, vlon in h3.cell_to_boundary(cell):
            worst = max(worst, haversine_m(lat, lon, vlat, vlon))
    return worst * 1.05


class Audience(Generic[K]):
    """The members an alert reaches: its sector's members plus those near it.
    The sector's set is the index's own (not copied): a sector holds
    thousands of residents and the hub only needs to walk it once."""

    __slots__ = ("near", "sector")

    def __init__(self, sector: set[K] | frozenset[K], near: set[K]) -> None:
        self.sector = sector
        self.near = near

    def __iter__(self) -> Iterator[K]:
        yield from self.sector
        sector = self.sector
        for key in self.near:
            if key not in sector:
                yield key

    def __len__(self) -> int:
        return len(self.sector) + sum(1 for k in self.near if k not in self.sector)

    def __bool__(self) -> bool:
        return bool(self.sector) or bool(self.near)

    def __contains__(self, key: object) -> bool:
        return key in self.sector or key in self.near

    def to_set(self) -> set[K]:
        return set(self.sector) | self.near

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Audience):
            return self.to_set() == other.to_set()
        if isinstance(other, (set, frozenset)):
            return self.to_set() == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


_EMPTY: frozenset[Any] = frozenset()
# Homes closer to the radius than this are decided by geo.haversine_m itself,
# so the vectorised test never disagrees with the oracle at the edge.
_EDGE_M = 0.01


class _Cell(Generic[K]):
    """Members of one index cell, with NumPy copies of their positions built
    on demand for the vectorised distance test."""

    __slots__ = ("_cos", "_keys", "_lat", "_lon", "center", "members")

    def __init__(self, center: tuple[float, float]) -> None:
        self.members: dict[K, tuple[float, float]] = {}
        self.center = center
        self._keys: list[K] | None = None
        self._lat: Any = None
        self._lon: Any = None
        self._cos: Any = None

    def touch(self) -> None:
        self._keys = None

    def within(self, lat: float, lon: float, radius_m: float) -> list[K]:
        if self._keys is None:
            self._keys = list(self.members)
            pos = np.array(list(self.members.values()), dtype=np.float64).reshape(-1, 2)
            self._lat = np.radians(pos[:, 0])
            self._lon = np.radians(pos[:, 1])
            self._cos = np.cos(self._lat)
        p1 = math.radians(lat)
        s_dp = np.sin((self._lat - p1) * 0.5)
        s_dl = np.sin((self._lon - math.radians(lon)) * 0.5)
        a = s_dp * s_dp + math.cos(p1) * self._cos * s_dl * s_dl
        d = 2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(1.0, a)))
        keys = self._keys
        out = [keys[i] for i in np.flatnonzero(d < radius_m - _EDGE_M)]
        for i in np.flatnonzero(np.abs(d - radius_m) <= _EDGE_M):
            hl, ho = self.members[keys[i]]
            if haversine_m(lat, lon, hl, ho) <= radius_m:
                out.append(keys[i])
        return out


class HomeIndex(Generic[K]):
    """Members (connections, or user ids) indexed by home cell, and within a
    cell by home sector, plus a set per sector. An alert's own sector's
    members are in its audience whatever the distance, so `near` skips
    their buckets and measures only the others."""

    def __init__(self, res: int = INDEX_RES) -> None:
        self.res = res
        self._r_cell = _circumradius_m(res)
        self._cells: dict[str, dict[str | None, _Cell[K]]] = {}
        self._centers: dict[str, tuple[float, float]] = {}
        self._sectors: dict[str, set[K]] = {}
        self._where: dict[K, tuple[str, str | None]] = {}

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, key: object) -> bool:
        return key in self._where

    def add(self, key: K, lat: float, lon: float, sector: str | None) -> None:
        self.remove(key)
        cell = cell_of(lat, lon, self.res)
        buckets = self._cells.get(cell)
        if buckets is None:
            buckets = self._cells[cell] = {}
            self._centers[cell] = cell_center(cell)
        bucket = buckets.get(sector)
        if bucket is None:
            bucket = buckets[sector] = _Cell(self._centers[cell])
        bucket.members[key] = (lat, lon)
        bucket.touch()
        if sector is not None:
            self._sectors.setdefault(sector, set()).add(key)
        self._where[key] = (cell, sector)

    def remove(self, key: K) -> None:
        where = self._where.pop(key, None)
        if where is None:
            return
        cell, sector = where
        buckets = self._cells[cell]
        bucket = buckets[sector]
        del bucket.members[key]
        bucket.touch()
        if not bucket.members:
            del buckets[sector]
            if not buckets:
                del self._cells[cell]
                del self._centers[cell]
        if sector is not None:
            members = self._sectors[sector]
            members.discard(key)
            if not members:
                del self._sectors[sector]

    def near(self, lat: float, lon: float, radius_m: float, skip_sector: str | None = None) -> set[K]:
        """Members within radius_m, except those of `skip_sector` (when given)."""
        out: set[K] = set()
        cells = self._cells
        for cell in disk_cells(lat, lon, radius_m, self.res):
            buckets = cells.get(cell)
            if buckets is None:
                continue
            d = haversine_m(lat, lon, *self._centers[cell])
            inside = d + self._r_cell <= radius_m
            if not inside and d - self._r_cell > radius_m:
                continue
            for sector, bucket in buckets.items():
                if skip_sector is not None and sector == skip_sector:
                    continue
                if inside:
                    out.update(bucket.members)  # the whole cell is inside the disk
                elif len(bucket.members) < 16:  # NumPy costs more than it saves here
                    out.update(k for k, (hl, ho) in bucket.members.items() if haversine_m(lat, lon, hl, ho) <= radius_m)
                else:
                    out.update(bucket.within(lat, lon, radius_m))
        return out

    def in_sectors(self, sectors: Iterable[str]) -> set[K]:
        out: set[K] = set()
        for s in sectors:
            out.update(self._sectors.get(s, ()))
        return out

    def alert_audience(self, lat: float, lon: float, sector: str | None, radius_m: float) -> Audience[K]:
        members = self._sectors.get(sector, _EMPTY) if sector is not None else _EMPTY
        return Audience(members, self.near(lat, lon, radius_m, skip_sector=sector))

    def broadcast_audience(self, data: dict[str, Any]) -> set[K]:
        circle = data.get("circle")
        if circle is not None:
            return self.near(circle["lat"], circle["lon"], circle["radius_m"])
        if data.get("polygon") is not None:
            return self.in_zone(polygon_of(data["polygon"]))
        return self.in_sectors(data.get("sectors", ()))

    def in_zone(self, polygon: Polygon) -> set[K]:
        """Members whose home is in the zone (zones.in_zone decides each):
        the cells that meet the zone's bounding circle are the candidates.
        The index's own cells are walked (a few hundred per worker): a 50 km
        zone's disk cover would be tens of thousands of cells."""
        lat, lon, radius = bounding_circle(polygon)
        out: set[K] = set()
        for cell, buckets in self._cells.items():
            if haversine_m(lat, lon, *self._centers[cell]) - self._r_cell > radius:
                continue
            for bucket in buckets.values():
                out.update(k for k, (hl, ho) in bucket.members.items() if in_zone(hl, ho, polygon))
        return out


def box_around(lat: float, lon: float, radius_m: float) -> tuple[float, float, float, float]:
    """(south, west, north, east) holding every point within radius_m (a
    little more): a store's candidate filter before the exact rule."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M) * 1.01
    dlon = dlat / max(math.cos(math.radians(min(abs(lat) + dlat, 89.0))), 1e-6)
    return lat - dlat, lon - dlon, lat + dlat, lon + dlon


def nearby_fanout(
    nearby: Nearby,
    author: int,
    category: str,
    lat: float,
    lon: float,
    sector: str | None,
    watchers: Iterable[tuple[int, float, float, str | None]],
) -> Fanout | None:
    """A new alert's out-of-band messages (issue 19): to the watchers (user
    id, home) whom the resident stream would reach (resident_wants: its
    sector, or within the radius), never its author. Its texts name the
    category and the sector only: neither the author nor the point. (A
    scan: the watchers are the few who opted in, already narrowed by the
    store to the alert's sectors and box.)"""
    data = {"lat": lat, "lon": lon, "sector": sector}
    audience = sorted(
        uid
        for uid, hlat, hlon, hsector in watchers
        if uid != author and resident_wants("alert.created", data, Home(uid, hlat, hlon, hsector), nearby.radius_m)
    )
    return Fanout("alert", tuple(audience), "info", category, nearby.texts) if audience else None


def resident_audience(
    index: HomeIndex[K], by_author: Mapping[int, Iterable[K]], event_type: str, data: dict[str, Any], radius_m: float
) -> Iterable[K]:
    """The live form of `resident_wants`: the members of `index` (and, for
    alert.status, the author's own members) for whom it is true."""
    if event_type == "alert.created":
        return index.alert_audience(data["lat"], data["lon"], data["sector"], radius_m)
    if event_type in ("alert.removed", "alert.text"):  # those who had it: its audience and its author
        near = index.alert_audience(data["lat"], data["lon"], data["sector"], radius_m)
        # the author's own members on this channel only: one on another
        # channel gets it there, in that channel's order
        author = [k for k in by_author.get(data["author"], ()) if k in index and k not in near]
        return [*near, *author] if author else near
    if event_type == "broadcast.sent":
        return index.broadcast_audience(data)
    if event_type == "alert.status":
        return by_author.get(data["author"], ())
    return ()
