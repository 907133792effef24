"""`python -m bench.audience`: the geo side alone. How fast is an alert's audience computed?

  ours       dispatch.core.audience.HomeIndex.alert_audience (H3 cells + sector sets)
  scan       NumPy: haversine over every home, distance <= radius OR same sector
  geosearch  Redis GEOSEARCH BYRADIUS + SMEMBERS of the sector, one round trip (bench.geosearch)

`agree` checks that all three give the same set on the first queries. Points
whose distance lies within 1 cm of the radius are left out of that
comparison (NumPy and math.asin may round differently there); the number
left out is reported and is normally 0."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.common import markdown_table, progress, ratio, write_json
from bench.layout import haversine_np, random_points
from bench.plots import lines, name
from geo import DEMO_CITY_PATH, City, load_city

BAND_M = 0.01
TARGET_HOMES = 100_000  # the targets are stated at 100k homes


def _as_set(audience: Any) -> set[int]:
    to_set = getattr(audience, "to_set", None)  # dispatch.core.audience.Audience
    return set(to_set() if to_set is not None else audience)


ROUNDS = 3


def _rate(fn: Callable[[int], object], queries: int, budget_s: float) -> float:
    """Queries per second, over at most `queries` calls and about budget_s seconds."""
    t0 = time.perf_counter()
    done = 0
    while done < queries:
        fn(done)
        done += 1
        if time.perf_counter() - t0 > budget_s:
            break
    return done / (time.perf_counter() - t0)


def run_size(
    city: City,
    homes: int,
    queries: int = 200,
    budget_s: float = 3.0,
    check: int = 20,
    radius_m: float = 500.0,
    redis_url: str | None = "redis://127.0.0.1:6379/0",
    seed: int = 7,
) -> dict[str, Any]:
    from dispatch.core.audience import HomeIndex

    rng = np.random.default_rng(seed)
    lat, lon, sectors = random_points(city, rng, homes)
    qlat, qlon, qsec = random_points(city, rng, max(queries, check))
    ids = {s: i for i, s in enumerate(city.sector_ids)}
    codes = np.array([ids[s] for s in sectors], dtype=np.int16)
    row: dict[str, Any] = {"homes": homes, "radius_m": radius_m}

    t0 = time.perf_counter()
    idx: HomeIndex[int] = HomeIndex()
    for i, (a, b, s) in enumerate(zip(lat.tolist(), lon.tolist(), sectors)):
        idx.add(i, a, b, s)
    row["ours_build_s"] = time.perf_counter() - t0

    def ours(q: int) -> Any:  # timed as returned: a set, or an Audience view over the index's own sets
        return idx.alert_audience(float(qlat[q]), float(qlon[q]), qsec[q], radius_m)

    def scan(q: int) -> np.ndarray:
        near = haversine_np(lat, lon, float(qlat[q]), float(qlon[q])) <= radius_m
        return np.flatnonzero(near | (codes == ids[qsec[q]]))  # the natural NumPy answer: an index array

    geo = None
    if redis_url:
        from bench.geosearch import GeoBaseline

        t0 = time.perf_counter()
        geo = GeoBaseline(redis_url, lat, lon, sectors)
        row["geosearch_load_s"] = time.perf_counter() - t0
    try:
        timed: dict[str, Callable[[int], object]] = {"ours_per_s": ours, "scan_per_s": scan}
        if geo is not None:
            g = geo
            timed["geosearch_per_s"] = lambda q: g.audience(float(qlat[q]), float(qlon[q]), qsec[q], radius_m)
        # interleaved rounds, best of each: interference only ever slows a
        # round, and it hits the three alike instead of whichever ran during it
        for _ in range(ROUNDS):
            for key, fn in timed.items():
                row[key] = max(row.get(key, 0.0), _rate(fn, queries, budget_s / ROUNDS))
        agree, banded, sizes = True, 0, []
        for q in range(check):
            a, b = float(qlat[q]), float(qlon[q])
            d = haversine_np(lat, lon, a, b)
            band = {int(i) for i in np.flatnonzero(np.abs(d - radius_m) < BAND_M) if codes[i] != ids[qsec[q]]}
            banded += len(band)
            mine = _as_set(ours(q)) - band
            sizes.append(len(mine))
            agree &= mine == {int(i) for i in scan(q)} - band
            if geo is not None:
                agree &= mine == {int(m) for m in geo.audience(a, b, qsec[q], radius_m)} - band
        row.update(agree=agree, band_excluded=banded, mean_audience=sum(sizes) / len(sizes))
    finally:
        if geo is not None:
            geo.close()
    row["x_scan"] = ratio(row["ours_per_s"], row["scan_per_s"])
    row["x_geosearch"] = ratio(row["ours_per_s"], row.get("geosearch_per_s"))
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.audience", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="10k and 100k homes, short timings")
    ap.add_argument("--json", metavar="PATH")
    ap.add_argument("--sizes", help="comma-separated home counts (default 10000,100000,1000000)")
    ap.add_argument("--radius-m", type=float, default=500.0)
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="'' to skip the GEOSEARCH baseline")
    a = ap.parse_args(argv)
    sizes = [int(s) for s in (a.sizes or ("10000,100000" if a.quick else "10000,100000,1000000")).split(",")]
    budget = 1.5 if a.quick else 4.0
    city = load_city(DEMO_CITY_PATH)
    rows = []
    bar = progress(len(sizes), "audience")
    for n in sizes:
        bar.set_postfix_str(f"{n:,} homes")
        rows.append(
            run_size(
                city,
                n,
                queries=300 if a.quick else 2000,
                budget_s=budget,
                check=10 if a.quick else 20,
                radius_m=a.radius_m,
                redis_url=a.redis or None,
            )
        )
        bar.update(1)
    bar.close()
    print(f"## Audience of one alert (radius {a.radius_m:.0f} m + its sector)\n")
    print(
        markdown_table(
            rows,
            [
                ("homes", "homes"),
                ("mean_audience", "mean audience"),
                ("ours_per_s", "ours /s"),
                ("scan_per_s", "NumPy scan /s"),
                ("geosearch_per_s", "GEOSEARCH /s"),
                ("x_scan", "x scan"),
                ("x_geosearch", "x GEOSEARCH"),
                ("agree", "agree"),
                ("band_excluded", "band excluded"),
                ("ours_build_s", "index build s"),
            ],
        )
    )
    head = next((r for r in rows if r["homes"] == TARGET_HOMES), rows[-1])
    verdicts = [
        {
            "target": f"ours >= 20 x NumPy scan at {head['homes']:,} homes",
            "value": head["x_scan"],
            "met": head["x_scan"] >= 20,
        },
        {
            "target": f"ours >= 10 x GEOSEARCH at {head['homes']:,} homes",
            "value": head["x_geosearch"],
            "met": head["x_geosearch"] >= 10,
        },
        {"target": "agree", "value": head["agree"], "met": bool(head["agree"])},
    ]
    print("\n## Targets\n")
    print(markdown_table(verdicts, [("target", "target"), ("value", "measured"), ("met", "met")]))
    plot = lines(
        name("audience", a.quick),
        "alert audiences computed per second",
        "resident homes",
        "audiences/s",
        {m: [(r["homes"], r.get(f"{m}_per_s", float("nan"))) for r in rows] for m in ("ours", "scan", "geosearch")},
        logx=True,
        logy=True,
    )
    print(f"\nplot: {plot}")
    doc = {
        "bench": "audience",
        "quick": a.quick,
        "homes": head["homes"],
        "ours_per_s": head["ours_per_s"],
        "scan_per_s": head["scan_per_s"],
        "geosearch_per_s": head.get("geosearch_per_s"),
        "agree": all(r["agree"] for r in rows),
        "ours_over_scan": head["x_scan"],
        "ours_over_geosearch": head["x_geosearch"],
        "targets": verdicts,
        "sizes": rows,
        "plots": [str(plot)],
    }
    write_json(a.json, doc)
    return 0 if doc["agree"] else 1


if __name__ == "__main__":
    sys.exit(main())
