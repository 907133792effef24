"""The Redis baseline of the audience bench: GEOSEARCH ... BYRADIUS for the
disk, SMEMBERS of a per-sector set for the sector, in one pipelined round trip.

Radius semantics. Ours is inclusive (<=) great-circle on a sphere of
6,371,008.8 m; Redis uses 6,372,797.560856 m and stores 52-bit geohashes
(positions off by up to ~0.6 m). To answer exactly the same question, we
search a slightly larger radius (R + 0.1 % + 1 m) and re-filter the
candidates on their original coordinates with our formula. That re-filter
is part of the timed work: without it the answer would be a different set."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import numpy as np
from redis import Redis

from bench.layout import haversine_np

CHUNK = 10_000


def margin_m(radius_m: float) -> float:
    return radius_m * 1e-3 + 1.0


class GeoBaseline:
    def __init__(self, url: str, lat: np.ndarray, lon: np.ndarray, sectors: Sequence[str]) -> None:
        self.r = Redis.from_url(url)
        self.prefix = f"bench:audience:{uuid.uuid4().hex[:12]}"
        self.geo_key = f"{self.prefix}:geo"
        self.lat, self.lon = lat, lon
        self.sector_keys: set[str] = set()
        pipe = self.r.pipeline(transaction=False)
        for k in range(0, len(lat), CHUNK):
            items: list[object] = []
            for i in range(k, min(k + CHUNK, len(lat))):
                items += [float(lon[i]), float(lat[i]), i]  # GEOADD wants lon, lat, member
            pipe.execute_command("GEOADD", self.geo_key, *items)  # type: ignore[no-untyped-call]
            by_sector: dict[str, list[int]] = {}
            for i in range(k, min(k + CHUNK, len(lat))):
                by_sector.setdefault(sectors[i], []).append(i)
            for s, members in by_sector.items():
                key = f"{self.prefix}:sector:{s}"
                self.sector_keys.add(key)
                pipe.sadd(key, *members)
            pipe.execute()

    def audience(self, lat: float, lon: float, sector: str | None, radius_m: float) -> set[bytes]:
        pipe = self.r.pipeline(transaction=False)
        pipe.execute_command(
            "GEOSEARCH",
            self.geo_key,
            "FROMLONLAT",
            lon,
            lat,
            "BYRADIUS",  # type: ignore[no-untyped-call]
            radius_m + margin_m(radius_m),
            "m",
        )
        pipe.smembers(f"{self.prefix}:sector:{sector}")
        near, in_sector = pipe.execute()
        if near:
            idx = np.fromiter((int(m) for m in near), dtype=np.int64, count=len(near))
            keep = haversine_np(self.lat[idx], self.lon[idx], lat, lon) <= radius_m
            in_sector = set(in_sector)
            in_sector.update(near[i] for i in np.flatnonzero(keep))
        return set(in_sector)

    def close(self) -> None:
        try:
            self.r.delete(self.geo_key, *self.sector_keys)
        finally:
            self.r.close()
