"""One sector: an id, a display name and its (multi)polygon."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from geo.polygon import BBox, Polygon, bbox_of, point_in_polygons, widened


@dataclass(frozen=True)
class Sector:
    id: str
    name: str
    polygons: tuple[Polygon, ...]
    """Outer ring then holes, per polygon; rings are closed tuples of (lon, lat)."""
    bbox: BBox = field(init=False, compare=False)
    """(south, west, north, east) of all vertices."""
    _probe: BBox = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.polygons or not all(self.polygons):
            raise ValueError(f"sector {self.id!r} needs at least one polygon with an outer ring")
        box = bbox_of(ring for polygon in self.polygons for ring in polygon)
        object.__setattr__(self, "bbox", box)
        # Widened so that contains() always equals a bare point_in_polygons().
        object.__setattr__(self, "_probe", widened(box))

    def contains(self, lat: float, lon: float) -> bool:
        """Exact planar lon/lat test (even-odd, holes excluded)."""
        s, w, n, e = self._probe
        return s <= lat <= n and w <= lon <= e and point_in_polygons(lon, lat, self.polygons)

    def geometry(self) -> dict[str, Any]:
        """GeoJSON geometry: a Polygon when there is one polygon, else a MultiPolygon."""
        coords = [[[[lon, lat] for lon, lat in ring] for ring in polygon] for polygon in self.polygons]
        if len(coords) == 1:
            return {"type": "Polygon", "coordinates": coords[0]}
        return {"type": "MultiPolygon", "coordinates": coords}

    def feature(self) -> dict[str, Any]:
        return {
            "type": "Feature",
            "properties": {"id": self.id, "name": self.name},
            "geometry": self.geometry(),
        }
