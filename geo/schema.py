"""Validation of a sectors file: GeoJSON in, plain tuples out, or an error that
says which file, which feature and what is wrong.

Not checked (documented, not enforced): ring self-intersection, holes lying
inside their outer ring, sectors overlapping one another (the first sector
in file order wins where they do).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from geo.polygon import Polygon, Position, Ring, signed_area

Fail = Callable[[str], NoReturn]
"""Raises a SectorFileError about the current feature; never returns."""


class SectorFileError(Exception):
    """A sectors file that cannot be used; the message names file and feature."""

    def __init__(
        self,
        path: str,
        reason: str,
        feature_index: int | None = None,
        feature_id: str | None = None,
    ) -> None:
        self.path = path
        self.reason = reason
        self.feature_index = feature_index
        self.feature_id = feature_id
        where = path
        if feature_index is not None:
            where += f": features[{feature_index}]"
            if feature_id is not None:
                where += f" (id {feature_id!r})"
        super().__init__(f"{where}: {reason}")

    def __reduce__(self) -> tuple[object, ...]:
        # The default would call __init__ with the formatted message only.
        return (type(self), (self.path, self.reason, self.feature_index, self.feature_id))


@dataclass(frozen=True)
class RawSector:
    id: str
    name: str
    polygons: tuple[Polygon, ...]


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def read_sectors(data: object, source: str) -> list[RawSector]:
    """Validate a decoded FeatureCollection; raise SectorFileError on any fault."""
    if not isinstance(data, dict):
        raise SectorFileError(source, f"expected a GeoJSON FeatureCollection object, got {_kind(data)}")
    if data.get("type") != "FeatureCollection":
        raise SectorFileError(source, f"top-level type must be 'FeatureCollection', got {data.get('type')!r}")
    features = data.get("features")
    if not isinstance(features, list):
        raise SectorFileError(source, f"'features' must be an array, got {_kind(features)}")
    if not features:
        raise SectorFileError(source, "'features' is empty: a city needs at least one sector")
    first_index: dict[str, int] = {}
    out: list[RawSector] = []
    for i, feature in enumerate(features):
        sector = _read_feature(feature, source, i)
        if sector.id in first_index:
            raise SectorFileError(
                source, f"duplicate properties.id, already used by features[{first_index[sector.id]}]", i, sector.id
            )
        first_index[sector.id] = i
        out.append(sector)
    return out


def _read_feature(feature: object, source: str, index: int) -> RawSector:
    props = feature.get("properties") if isinstance(feature, dict) else None
    raw_id = props.get("id") if isinstance(props, dict) else None
    shown_id = raw_id if isinstance(raw_id, str) else None

    def fail(reason: str) -> NoReturn:
        raise SectorFileError(source, reason, index, shown_id)

    if not isinstance(feature, dict):
        fail(f"expected a Feature object, got {_kind(feature)}")
    if feature.get("type") != "Feature":
        fail(f"type must be 'Feature', got {feature.get('type')!r}")
    if not isinstance(props, dict):
        fail(f"properties must be an object, got {_kind(props)}")
    for key in ("id", "name"):
        value = props.get(key)
        if not isinstance(value, str) or not value.strip():
            shown = "missing" if key not in props else f"{_kind(value)} {value!r}"
            fail(f"properties.{key} must be a non-empty string ({shown})")
    geometry = feature.get("geometry")
    if not isinstance(geometry, dict):
        fail(f"geometry must be a Polygon or MultiPolygon object, got {_kind(geometry)}")
    kind = geometry.get("type")
    coords = geometry.get("coordinates")
    polygons: tuple[Polygon, ...]
    if kind == "Polygon":
        polygons = (_polygon(coords, "geometry.coordinates", fail),)
    elif kind == "MultiPolygon":
        if not isinstance(coords, list) or not coords:
            fail(f"geometry.coordinates of a MultiPolygon must be a non-empty array, got {_kind(coords)}")
        polygons = tuple(_polygon(p, f"geometry.coordinates[{j}]", fail) for j, p in enumerate(coords))
    else:
        fail(f"geometry type must be 'Polygon' or 'MultiPolygon', got {kind!r}")
    return RawSector(id=str(props["id"]), name=str(props["name"]), polygons=polygons)


def _polygon(value: object, where: str, fail: Fail) -> Polygon:
    if not isinstance(value, list) or not value:
        fail(f"{where} must be a non-empty array of rings, got {_kind(value)}")
    return tuple(_ring(r, f"{where}[{k}]", fail) for k, r in enumerate(value))


def _ring(value: object, where: str, fail: Fail) -> Ring:
    if not isinstance(value, list):
        fail(f"ring {where} must be an array of positions, got {_kind(value)}")
    if len(value) < 4:
        fail(f"ring {where} has {len(value)} positions; a closed ring needs at least 4")
    ring = tuple(_position(p, f"{where}[{m}]", fail) for m, p in enumerate(value))
    if ring[0] != ring[-1]:
        fail(f"ring {where} is not closed: first position {list(ring[0])} != last {list(ring[-1])}")
    lons = [lon for lon, _ in ring]
    if max(lons) - min(lons) > 180.0:
        fail(f"ring {where} spans more than 180 degrees of longitude (antimeridian crossings are unsupported)")
    if signed_area(ring) == 0.0:
        fail(f"ring {where} has zero area (its positions are collinear or repeated)")
    return ring


def _position(value: object, where: str, fail: Fail) -> Position:
    if not isinstance(value, list) or len(value) not in (2, 3):
        fail(f"position {where} must be [lon, lat] (optionally with altitude), got {value!r}")
    for axis, number in zip(("longitude", "latitude"), value[:2], strict=True):
        # bool is an int subclass; JSON true/false is not a coordinate.
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            fail(f"position {where}: {axis} must be a number, got {number!r}")
        if not math.isfinite(number):
            fail(f"position {where}: {axis} must be finite, got {number!r}")
    lon, lat = float(value[0]), float(value[1])
    if not -180.0 <= lon <= 180.0:
        fail(f"position {where}: longitude {lon} is outside [-180, 180] (is it [lat, lon]?)")
    if not -90.0 <= lat <= 90.0:
        fail(f"position {where}: latitude {lat} is outside [-90, 90] (is it [lat, lon]?)")
    return lon, lat
