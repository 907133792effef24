"""Interest routing: which bus channels carry an event.

One channel for the ops screens (every ops event), one channel per sector for
the residents whose home is in it ("s:<sector id>": each sector its own feed),
and, for the few homes outside every sector, one channel per coarse H3 cell
("c:<cell>", resolution 7, about 5 km2). A resident's connection listens on
exactly one channel, so it gets each event once and in that channel's order.
An event is published on the channels of the residents it may concern: its
sector, and the sectors (and outside cells) its audience area touches. A
worker subscribes only to the channels of its own listeners, so no worker
receives every event of the city.

Each event is stored with a row per channel (Store.events_after by channel):
an alert in a sector and its 500 m disk touch 3.5 channels besides ops on
average in the demo city, where one channel per resolution-7 cell of the
sector took ~25."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any, Protocol

import h3

from dispatch.core.zones import bounding_circle
from geo import cell_center, cell_of, cell_reach_m, disk_cells
from geo.polygon import Polygon

OPS = "ops"
# Every worker follows it from start to stop: account-wide orders such as
# session.ended, which no client receives.
CONTROL = "control"
CHANNEL_RES = 7  # homes outside every sector: one channel per cell
AREA_RES = 9  # the resolution at which an area's sectors are looked up


class SectorCover(Protocol):
    def __hash__(self) -> int: ...
    def cell_sectors(self, cell: str) -> tuple[frozenset[str], bool]: ...


def home_channel(lat: float, lon: float, sector: str | None) -> str:
    """The channel a resident's connection listens on: its home sector's
    (as City.sector_of gives it), else its coarse outside cell -- taken as
    the parent of its AREA_RES cell, so that it is the channel
    area_channels names for that cell (H3 children do not tile parents
    exactly: cell_of at CHANNEL_RES could differ near a cell's edge)."""
    if sector is not None:
        return "s:" + sector
    return "c:" + str(h3.cell_to_parent(cell_of(lat, lon, AREA_RES), CHANNEL_RES))


def area_channels(lat: float, lon: float, radius_m: float, city: SectorCover) -> set[str]:
    """The channels of every home within radius_m of the point (a superset)."""
    # AREA_RES cells are ~0.1 km2: past 5 km the cover gets long to compute,
    # so large circles are covered at CHANNEL_RES (more sectors may be named)
    res = AREA_RES if radius_m <= 5_000 else CHANNEL_RES
    out: set[str] = set()
    for c in disk_cells(lat, lon, radius_m, res):
        sectors, outside = city.cell_sectors(c)
        out.update("s:" + s for s in sectors)
        if not outside:
            continue
        if res > CHANNEL_RES:
            out.add("c:" + h3.cell_to_parent(c, CHANNEL_RES))
        else:  # a home's channel cell is its own CHANNEL_RES cell or a neighbour
            out.update("c:" + n for n in h3.grid_disk(c, 1))
    return out


# An alert's disk channels are memoised per resolution-10 cell (~1.5 ha):
# the cover of the disk of radius r + the cell's reach around its centre
# contains the disk of radius r around any point of the cell. A superset is
# all routing needs (the hub picks the exact audience among a channel's
# listeners); computing the cover was 7 % of an ingesting worker's CPU.
_FINE_RES = 10
# Bound (docs/bounds.md): the demo city has ~9,000 such cells and an entry
# holds ~1 KB; at 5 alerts/s spread evenly, 32,768 slots were still filling
# after an hour (+3 MB in its second half). 4,096 fill in ~15 minutes and
# keep the hot spots, where real alerts cluster; a miss costs one cover.
DISK_CACHE_SIZE = 4096


@lru_cache(maxsize=DISK_CACHE_SIZE)
def _disk_channels(fine_cell: str, radius_m: float, city: SectorCover) -> frozenset[str]:
    lat, lon = cell_center(fine_cell)
    return frozenset(area_channels(lat, lon, radius_m + cell_reach_m(fine_cell), city))


def alert_channels(lat: float, lon: float, sector: str | None, radius_m: float, city: SectorCover) -> list[str]:
    """Residents within radius_m of the point, and those of its sector."""
    out = set(_disk_channels(cell_of(lat, lon, _FINE_RES), radius_m, city))
    if sector is not None:
        out.add("s:" + sector)
    return [OPS, *sorted(out)]


def broadcast_channels(
    sectors: Iterable[str] | None, circle: dict[str, Any] | None, city: SectorCover, polygon: Polygon | None = None
) -> list[str]:
    """A zone is routed as its bounding circle: a superset, like the rest."""
    out: set[str] = set()
    if polygon is not None:
        lat, lon, radius = bounding_circle(polygon)
        circle = {"lat": lat, "lon": lon, "radius_m": radius}
    if circle is not None:
        out = area_channels(circle["lat"], circle["lon"], circle["radius_m"], city)
    out.update("s:" + s for s in sectors or ())
    return [OPS, *sorted(out)]
