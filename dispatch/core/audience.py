"""Who must receive an event. Pure.

Two forms of the same rule: `resident_wants` decides for one resident (used
when replaying from the store), and `HomeIndex` finds everyone at once for the
live path, with H3 cells as the spatial index: the disk cover only picks the
candidates, the exact great-circle distance decides."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, TypeVar

import h3

from geo import cell_center, cell_of, disk_cells, haversine_m

K = TypeVar("K", bound=Hashable)

# H3 resolution of the homes index: edges of about 530 m, so a 500 m disk is
# covered by one cell and its first ring or two.
INDEX_RES = 8


@dataclass(frozen=True)
class Home:
    user_id: int
    lat: float
    lon: float
    sector: str | None


def within(lat1: float, lon1: float, lat2: float, lon2: float, radius_m: float) -> bool:
    return haversine_m(lat1, lon1, lat2, lon2) <= radius_m


def resident_wants(event_type: str, data: dict[str, Any], home: Home, radius_m: float) -> bool:
    """The rule of CONTRACT.md /ws/resident, for one resident and one event."""
    if event_type == "alert.created":
        same_sector = home.sector is not None and data["sector"] == home.sector
        return same_sector or within(home.lat, home.lon, data["lat"], data["lon"], radius_m)
    if event_type == "broadcast.sent":
        circle = data.get("circle")
        if circle is not None:
            return within(home.lat, home.lon, circle["lat"], circle["lon"], circle["radius_m"])
        return home.sector is not None and home.sector in data.get("sectors", ())
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


class HomeIndex(Generic[K]):
    """Members (connections, or user ids) indexed by home cell and sector."""

    def __init__(self, res: int = INDEX_RES) -> None:
        self.res = res
        self._r_cell = _circumradius_m(res)
        self._cells: dict[str, dict[K, tuple[float, float]]] = {}
        self._centers: dict[str, tuple[float, float]] = {}
        self._sectors: dict[str, set[K]] = {}
        self._where: dict[K, tuple[str, str | None]] = {}

    def __len__(self) -> int:
        return len(self._where)

    def add(self, key: K, lat: float, lon: float, sector: str | None) -> None:
        self.remove(key)
        cell = cell_of(lat, lon, self.res)
        bucket = self._cells.get(cell)
        if bucket is None:
            bucket = self._cells[cell] = {}
            self._centers[cell] = cell_center(cell)
        bucket[key] = (lat, lon)
        if sector is not None:
            self._sectors.setdefault(sector, set()).add(key)
        self._where[key] = (cell, sector)

    def remove(self, key: K) -> None:
        where = self._where.pop(key, None)
        if where is None:
            return
        cell, sector = where
        bucket = self._cells[cell]
        del bucket[key]
        if not bucket:
            del self._cells[cell]
            del self._centers[cell]
        if sector is not None:
            members = self._sectors[sector]
            members.discard(key)
            if not members:
                del self._sectors[sector]

    def near(self, lat: float, lon: float, radius_m: float) -> set[K]:
        out: set[K] = set()
        cells = self._cells
        for cell in disk_cells(lat, lon, radius_m, self.res):
            bucket = cells.get(cell)
            if not bucket:
                continue
            clat, clon = self._centers[cell]
            d = haversine_m(lat, lon, clat, clon)
            if d + self._r_cell <= radius_m:
                out.update(bucket)  # the whole cell is inside the disk
            elif d - self._r_cell <= radius_m:
                out.update(k for k, (hl, ho) in bucket.items() if haversine_m(lat, lon, hl, ho) <= radius_m)
        return out

    def in_sectors(self, sectors: Iterable[str]) -> set[K]:
        out: set[K] = set()
        for s in sectors:
            out.update(self._sectors.get(s, ()))
        return out

    def alert_audience(self, lat: float, lon: float, sector: str | None, radius_m: float) -> set[K]:
        out = self.near(lat, lon, radius_m)
        if sector is not None:
            out.update(self._sectors.get(sector, ()))
        return out

    def broadcast_audience(self, data: dict[str, Any]) -> set[K]:
        circle = data.get("circle")
        if circle is not None:
            return self.near(circle["lat"], circle["lon"], circle["radius_m"])
        return self.in_sectors(data.get("sectors", ()))
