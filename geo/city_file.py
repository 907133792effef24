"""Loading a city from a GeoJSON sectors file (or from decoded data): every
failure names the file and, through geo.schema, the feature."""

from __future__ import annotations

import json
import os

from geo.city import City
from geo.schema import SectorFileError, read_sectors
from geo.sector import Sector


def parse_city(data: object, source: str = "<memory>", index_res: int = 9) -> City:
    """Build a City from a decoded FeatureCollection.

    source only names the data in error messages. Raises SectorFileError for
    malformed data, ValueError for a bad index_res.
    """
    raw = read_sectors(data, source)
    return City((Sector(r.id, r.name, r.polygons) for r in raw), index_res=index_res)


def _reject_constant(token: str) -> float:
    raise ValueError(f"{token} is not valid JSON")


def load_city(path: str | os.PathLike[str], index_res: int = 9) -> City:
    """Read a UTF-8 GeoJSON sectors file; every failure names the file."""
    source = os.fspath(path)
    try:
        with open(source, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise SectorFileError(source, f"cannot read the file: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SectorFileError(source, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise SectorFileError(source, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except (ValueError, RecursionError) as exc:
        raise SectorFileError(source, f"not valid JSON: {exc}") from exc
    return parse_city(data, source, index_res)
