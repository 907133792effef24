"""Pure geometry for the operations centre: distances, H3 cells, city sectors.

No I/O beyond reading a sectors file, no asyncio: safe to call anywhere.
"""

from __future__ import annotations

from pathlib import Path

from geo.cells import cell_boundary, cell_center, cell_of, cell_reach_m, disk_cells, haversine_m
from geo.city import City
from geo.city_file import load_city, parse_city
from geo.schema import SectorFileError
from geo.sector import Sector

DEMO_CITY_PATH = Path(__file__).resolve().parent / "cities" / "narbonne.geojson"
"""The bundled demo city (approximate outlines of Narbonne's 8 council areas)."""

__all__ = [
    "DEMO_CITY_PATH",
    "City",
    "Sector",
    "SectorFileError",
    "cell_boundary",
    "cell_center",
    "cell_of",
    "cell_reach_m",
    "disk_cells",
    "haversine_m",
    "load_city",
    "parse_city",
]
