"""A town's alert traffic for `dispatch simulate`: a pure function of a seed.

Issue 18: uniform random alerts drew "a carpet of 1-witness hexagons". Real
traffic is lumpy, so the generator has three shapes, each tested in
tests/test_traffic.py:
- categories in realistic proportions: about 40 % mutual aid (DEVELOPERS.md),
  fire rare (CATEGORY_WEIGHTS);
- busy and quiet sectors: sector k (in a seeded shuffle) weighs 1/(k+1), a
  Zipf law, so the busiest sector sees about 8 times the quietest's traffic in
  an 8-sector town;
- witnesses: a share of the visible events (a fire, a rodeo, a storm) is
  reported by 2 to 5 people within CLUSTER_S seconds and CLUSTER_M metres,
  which the server groups into one incident.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from geo import City

CATEGORY_WEIGHTS = {
    "solidarity": 0.40,
    "suspicious": 0.14,
    "theft": 0.10,
    "vandalism": 0.09,
    "ecology": 0.07,
    "burglary": 0.06,
    "rodeo": 0.06,
    "weather": 0.05,
    "fire": 0.03,
}
# what several neighbours see and report at once
VISIBLE = frozenset({"fire", "rodeo", "weather", "vandalism", "suspicious"})
CLUSTER_SHARE = 0.25  # of the visible events
CLUSTER_S = 90.0
CLUSTER_M = 80.0
_TRIES = 1000
_M_PER_DEG = 111_320.0


@dataclass(frozen=True)
class Report:
    at_s: float  # seconds from the start
    category: str
    lat: float
    lon: float
    sector: str
    event: int  # reports of one event share it (a cluster of witnesses)


def sector_weights(city: City, rng: random.Random) -> dict[str, float]:
    ids = list(city.sector_ids)
    rng.shuffle(ids)
    raw = {s: 1.0 / (k + 1) for k, s in enumerate(ids)}
    total = sum(raw.values())
    return {s: w / total for s, w in raw.items()}


def point_in_sector(city: City, sector: str, rng: random.Random) -> tuple[float, float]:
    """(lat, lon) uniform over the sector, as the server locates it."""
    south, west, north, east = city.sector(sector).bbox
    for _ in range(_TRIES):
        lat, lon = rng.uniform(south, north), rng.uniform(west, east)
        if city.sector_of(lat, lon) == sector:
            return lat, lon
    raise RuntimeError(f"no point of sector {sector!r} found in {_TRIES} tries")


def _near(lat: float, lon: float, rng: random.Random) -> tuple[float, float]:
    r = CLUSTER_M * math.sqrt(rng.random())
    a = rng.uniform(0, 2 * math.pi)
    return lat + r * math.cos(a) / _M_PER_DEG, lon + r * math.sin(a) / (_M_PER_DEG * math.cos(math.radians(lat)))


def _witnesses(category: str, rng: random.Random) -> int:
    if category in VISIBLE and rng.random() < CLUSTER_SHARE:
        return rng.randint(2, 5)
    return 1


def _mean_witnesses(category: str) -> float:
    return 1 + CLUSTER_SHARE * 2.5 if category in VISIBLE else 1.0  # randint(2, 5) averages 3.5


def town_traffic(city: City, rate: float, duration: float, seed: int | None) -> list[Report]:
    """About rate x duration reports over [0, duration), in time order."""
    rng = random.Random(seed)
    weights = sector_weights(city, rng)
    sectors, sector_w = list(weights), list(weights.values())
    categories = list(CATEGORY_WEIGHTS)
    # events are drawn so that the REPORTS keep CATEGORY_WEIGHTS: a visible
    # event brings 1 + CLUSTER_SHARE x 2.5 reports on average
    category_w = [CATEGORY_WEIGHTS[c] / _mean_witnesses(c) for c in categories]
    target = max(1, round(rate * duration))
    reports: list[Report] = []
    event = 0
    while len(reports) < target:
        category = rng.choices(categories, category_w)[0]
        sector = rng.choices(sectors, sector_w)[0]
        lat, lon = point_in_sector(city, sector, rng)
        start = rng.uniform(0, duration)
        for k in range(_witnesses(category, rng)):
            at = start if k == 0 else min(duration * 0.999999, start + rng.uniform(0, CLUSTER_S))
            wlat, wlon = (lat, lon) if k == 0 else _near(lat, lon, rng)
            where = city.sector_of(wlat, wlon)
            if where is None:  # a witness past the town's edge: the first one's point
                wlat, wlon, where = lat, lon, sector
            reports.append(Report(at, category, wlat, wlon, where, event))
        event += 1
    return sorted(reports[:target], key=lambda r: r.at_s)
