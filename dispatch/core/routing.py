"""Interest routing: which bus channels carry an event.

One channel for the ops screens (every ops event), and one channel per coarse
H3 cell for residents: a resident's connection listens on the channel of its
home's cell, and an event is published on the channels of every cell its
audience area touches. A worker subscribes only to the channels of its own
listeners, so no worker receives every event of the city (issue 3).

Resolution 7 (cells of about 5 km2, 1.2 km edges): a 500 m disk touches 1-4
cells and a town sector a handful, while a town of 100 km2 spreads its
residents over a few dozen channels."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any, Protocol

from geo import cell_center, cell_of, cell_reach_m, disk_cells

OPS = "ops"
CHANNEL_RES = 7


class SectorCover(Protocol):
    def sector_cells(self, sector_id: str, res: int) -> frozenset[str]: ...


def home_channel(lat: float, lon: float) -> str:
    return "c:" + cell_of(lat, lon, CHANNEL_RES)


def _cells(cells: Iterable[str]) -> set[str]:
    return {"c:" + c for c in cells}


# An alert's disk channels are memoised per resolution-10 cell (~1.5 ha):
# the cover of the disk of radius r + the cell's reach around its centre
# contains the disk of radius r around any point of the cell. A superset is
# all routing needs (the hub picks the exact audience among a channel's
# listeners); computing the cover was 7 % of an ingesting worker's CPU.
_FINE_RES = 10


@lru_cache(maxsize=1 << 15)
def _disk_channels(fine_cell: str, radius_m: float) -> frozenset[str]:
    lat, lon = cell_center(fine_cell)
    return frozenset(_cells(disk_cells(lat, lon, radius_m + cell_reach_m(fine_cell), CHANNEL_RES)))


def alert_channels(lat: float, lon: float, sector: str | None, radius_m: float, city: SectorCover) -> list[str]:
    out = set(_disk_channels(cell_of(lat, lon, _FINE_RES), radius_m))
    if sector is not None:
        out |= _cells(city.sector_cells(sector, CHANNEL_RES))
    return [OPS, *sorted(out)]


def broadcast_channels(sectors: Iterable[str] | None, circle: dict[str, Any] | None, city: SectorCover) -> list[str]:
    out: set[str] = set()
    if circle is not None:
        out = _cells(disk_cells(circle["lat"], circle["lon"], circle["radius_m"], CHANNEL_RES))
    for s in sectors or ():
        out |= _cells(city.sector_cells(s, CHANNEL_RES))
    return [OPS, *sorted(out)]
