"""A city: its sectors and an exact, H3-accelerated point -> sector lookup."""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Iterable
from itertools import chain
from typing import Any, Final

from h3.api import basic_int as h3i

from geo.index import CellIndex, build_index
from geo.polygon import BBox, union_bbox, widened
from geo.sector import Sector

_RANDOM_POINT_TRIES = 1_000_000


class City:
    """Immutable after construction; safe to share between tasks and threads."""

    def __init__(self, sectors: Iterable[Sector], index_res: int = 9) -> None:
        secs = tuple(sectors)
        if not secs:
            raise ValueError("a city needs at least one sector")
        ids = tuple(s.id for s in secs)
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate sector ids in {ids!r}")
        if not 0 <= index_res <= 15:
            raise ValueError(f"index_res must be an H3 resolution 0..15, got {index_res!r}")
        self.sectors: Final = secs
        self.sector_ids: Final = ids
        self.index_res: Final = index_res
        self.names: Final[dict[str, str]] = {s.id: s.name for s in secs}
        """id -> display name; do not mutate."""
        self.bounds: Final[BBox] = union_bbox(s.bbox for s in secs)
        """(south, west, north, east) of every sector."""
        self.fingerprint: Final = _fingerprint(secs)
        """sha256 hex of the normalised sectors: changes iff ids, names or shapes do."""

        self._probe = widened(self.bounds)
        self._by_id = {sec.id: sec for sec in secs}
        index = build_index([sec.polygons for sec in secs], index_res)
        self._interior: dict[int, str] = {c: secs[i].id for c, i in index.interior.items()}
        self._boundary: dict[int, tuple[Sector, ...]] = {
            c: tuple(secs[i] for i in found) for c, found in index.boundary.items()
        }
        self._covers: dict[tuple[str, int], frozenset[str]] = {}
        self._indexes: dict[int, CellIndex] = {index_res: index}

    def __repr__(self) -> str:
        return f"<City {len(self.sectors)} sectors, index_res={self.index_res}, fingerprint={self.fingerprint[:12]}>"

    def sector(self, sector_id: str) -> Sector:
        """The sector with this id; KeyError if there is none."""
        try:
            return self._by_id[sector_id]
        except KeyError:
            raise KeyError(f"unknown sector id {sector_id!r}") from None

    def sector_of(self, lat: float, lon: float) -> str | None:
        """Id of the sector containing the point, or None.

        Exact: the same answer as testing every sector in order with
        Sector.contains (first match wins). Out-of-range or NaN input is in
        no sector.
        """
        s, w, n, e = self._probe
        if not (s <= lat <= n and w <= lon <= e):
            return None
        cell: int = h3i.latlng_to_cell(lat, lon, self.index_res)
        owner = self._interior.get(cell)
        if owner is not None:
            return owner
        for sector in self._boundary.get(cell, ()):
            if sector.contains(lat, lon):
                return sector.id
        return None

    def geojson(self) -> dict[str, Any]:
        """A fresh FeatureCollection with properties.id and properties.name per sector."""
        return {"type": "FeatureCollection", "features": [s.feature() for s in self.sectors]}

    def random_point(self, rng: random.Random) -> tuple[float, float]:
        """(lat, lon) uniformly distributed by area over the city's sectors."""
        s, w, n, e = self.bounds
        # Uniform in sin(lat) is uniform in area on the sphere; plain uniform
        # latitude would over-weight the north of a city.
        lo, hi = math.sin(math.radians(s)), math.sin(math.radians(n))
        for _ in range(_RANDOM_POINT_TRIES):
            lat = math.degrees(math.asin(rng.uniform(lo, hi)))
            lon = rng.uniform(w, e)
            if self.sector_of(lat, lon) is not None:
                return lat, lon
        raise RuntimeError(f"no point of the city hit in {_RANDOM_POINT_TRIES} tries: is its area zero?")

    def sector_cells(self, sector_id: str, res: int) -> frozenset[str]:
        """Cells at res that cover the sector: a superset (edge cells included)."""
        key = (sector_id, res)
        cover = self._covers.get(key)
        if cover is None:
            # Built per sector rather than read from the city index, so that
            # a cell shared with an overlapping sector is not lost.
            index = build_index([self.sector(sector_id).polygons], res)
            cover = frozenset(format(c, "x") for c in chain(index.interior, index.boundary))
            self._covers[key] = cover
        return cover

    def cell_sectors(self, cell: str) -> tuple[frozenset[str], bool]:
        """For an H3 cell (any resolution): the sectors a point of the cell
        may be in (a superset; sector_of decides), and whether a point of it
        may be in no sector (False only when the whole cell lies in one)."""
        c = h3i.str_to_int(cell)
        res = h3i.get_resolution(c)
        index = self._indexes.get(res)
        if index is None:
            index = self._indexes[res] = build_index([sec.polygons for sec in self.sectors], res)
        owner = index.interior.get(c)
        if owner is not None:
            return frozenset((self.sectors[owner].id,)), False
        return frozenset(self.sectors[i].id for i in index.boundary.get(c, ())), True


def _fingerprint(sectors: tuple[Sector, ...]) -> str:
    doc = [[s.id, s.name, [[list(map(list, ring)) for ring in p] for p in s.polygons]] for s in sectors]
    blob = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
