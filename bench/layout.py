"""Where the bench's residents live and where its alerts happen. Pure.

All subscribers live in ONE sector (by default `est`), spread uniformly over
it: a sector alert then reaches every connection, the same work the floor
does (it writes to all), which makes ours/floor a like-for-like ratio.
Radius alerts happen in the neighbouring sectors, which have no subscriber,
so their audience is exactly the homes within radius_m: the spatial index
is exercised without the sector rule hiding it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from geo import City, haversine_m
from geo.cells import EARTH_RADIUS_M


def random_points(
    city: City, rng: np.random.Generator, n: int, sector: str | None = None, exclude: str | None = None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """n points uniform by area over the city (or one sector): the same
    distribution as City.random_point, drawn in vectorised batches."""
    s, w, nth, e = city.bounds
    lo, hi = math.sin(math.radians(s)), math.sin(math.radians(nth))
    lats: list[float] = []
    lons: list[float] = []
    secs: list[str] = []
    for _ in range(10_000):
        if len(lats) >= n:
            break
        batch = max(1024, 2 * (n - len(lats)))
        la = np.degrees(np.arcsin(rng.uniform(lo, hi, batch)))
        lo_ = rng.uniform(w, e, batch)
        for a, b in zip(la.tolist(), lo_.tolist()):
            sec = city.sector_of(a, b)
            if sec is None or (sector is not None and sec != sector) or (exclude is not None and sec == exclude):
                continue
            lats.append(a)
            lons.append(b)
            secs.append(sec)
            if len(lats) >= n:
                break
    if len(lats) < n:
        raise RuntimeError(f"could not draw {n} points in sector {sector!r}")
    return np.array(lats), np.array(lons), secs


def haversine_np(lat: np.ndarray, lon: np.ndarray, lat0: float, lon0: float) -> np.ndarray:
    """geo.haversine_m, vectorised (same formula, same Earth radius)."""
    p1 = np.radians(lat)
    p0 = math.radians(lat0)
    s_dp = np.sin((p0 - p1) * 0.5)
    s_dl = np.sin(np.radians(lon0 - lon) * 0.5)
    a = s_dp * s_dp + np.cos(p1) * math.cos(p0) * s_dl * s_dl
    out: np.ndarray = 2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(1.0, a)))
    return out


def within_exact(lat: np.ndarray, lon: np.ndarray, lat0: float, lon0: float, radius_m: float) -> set[int]:
    """Indices with haversine_m <= radius_m, decided by geo.haversine_m itself
    (NumPy only pre-selects with a 1 m margin): the product's rule exactly."""
    cand = np.flatnonzero(haversine_np(lat, lon, lat0, lon0) <= radius_m + 1.0)
    return {int(i) for i in cand if haversine_m(lat0, lon0, float(lat[i]), float(lon[i])) <= radius_m}


@dataclass(frozen=True)
class Alert:
    kind: str  # "sector" (audience: the whole sector) or "radius"
    lat: float
    lon: float
    sector: str


@dataclass
class Layout:
    city: City
    sector: str
    lat: np.ndarray
    lon: np.ndarray
    radius_m: float

    def audience(self, alert: Alert, n: int) -> set[int]:
        """The intended recipients among the first n homes (all in self.sector)."""
        if alert.sector == self.sector:
            return set(range(n))
        return within_exact(self.lat[:n], self.lon[:n], alert.lat, alert.lon, self.radius_m)

    def sector_alerts(self, rng: np.random.Generator, count: int) -> list[Alert]:
        la, lo, _ = random_points(self.city, rng, count, sector=self.sector)
        return [Alert("sector", a, b, self.sector) for a, b in zip(la.tolist(), lo.tolist())]

    def radius_alerts(self, rng: np.random.Generator, count: int, n: int, min_audience: int = 3) -> list[Alert]:
        """Points outside self.sector whose disk holds at least min_audience of
        the first n homes, i.e. near the sector's edge."""
        out: list[Alert] = []
        for _ in range(50):
            la, lo, secs = random_points(self.city, rng, 400, exclude=self.sector)
            for a, b, s in zip(la.tolist(), lo.tolist(), secs):
                if len(within_exact(self.lat[:n], self.lon[:n], a, b, self.radius_m)) >= min_audience:
                    out.append(Alert("radius", a, b, s))
                    if len(out) >= count:
                        return out
        return out


def make_layout(city: City, homes: int, sector: str, radius_m: float, seed: int = 4) -> Layout:
    rng = np.random.default_rng(seed)
    lat, lon, _ = random_points(city, rng, homes, sector=sector)
    return Layout(city, sector, lat, lon, radius_m)
