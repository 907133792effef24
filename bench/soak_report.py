"""The soak's curve: slopes over the last half, the CSV, the PNG."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

# Level-off criterion. The issue measured +30 MB/h on the server and
# +2.7 MB/h on the page in 15 minutes: a tenth of those is noise on a
# shared machine (one SQLite page-cache step, one pymalloc arena is 1 MB),
# and at that rate a week on the wall costs less than the server's start.
TARGET_RSS_MB_H = 2.0
TARGET_HEAP_MB_H = 0.3

SERIES = ("rss_mb", "heap_mb", "idle_rss_mb", "idle_heap_mb")


def slope_per_hour(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) points, in MB per hour."""
    pts = [(x, y) for x, y in points if math.isfinite(y)]
    if len(pts) < 3:
        return math.nan
    n = len(pts)
    mx = sum(x for x, _ in pts) / n
    my = sum(y for _, y in pts) / n
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    if not sxx:
        return math.nan
    sxy = sum((x - mx) * (y - my) for x, y in pts)
    return sxy / sxx * 3600.0


def last_half(samples: Sequence[dict[str, Any]], key: str) -> list[tuple[float, float]]:
    if not samples:
        return []
    end = samples[-1]["t_s"]
    return [(s["t_s"], s[key]) for s in samples if s["t_s"] >= end / 2 and s.get(key) is not None]


def summarise(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in SERIES:
        out[f"{key}_slope_mb_h"] = slope_per_hour(last_half(samples, key))
        vals = [s[key] for s in samples if s.get(key) is not None]
        out[f"{key}_first"] = vals[0] if vals else math.nan
        out[f"{key}_last"] = vals[-1] if vals else math.nan
    rss, heap = out["rss_mb_slope_mb_h"], out["heap_mb_slope_mb_h"]
    out["rss_met"] = math.isfinite(rss) and rss <= TARGET_RSS_MB_H
    out["heap_met"] = math.isfinite(heap) and heap <= TARGET_HEAP_MB_H
    # ratios of slopes are meaningless near zero: the difference is what counts
    out["rss_slope_minus_idle"] = rss - out["idle_rss_mb_slope_mb_h"]
    out["heap_slope_minus_idle"] = heap - out["idle_heap_mb_slope_mb_h"]
    return out


def write_csv(path: Path, samples: Sequence[dict[str, Any]]) -> None:
    keys = list(samples[0].keys()) if samples else ["t_s", *SERIES]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(samples)


def plot(path: Path, samples: Sequence[dict[str, Any]], summary: dict[str, Any], title: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(8, 6.4), dpi=110, sharex=True)
    t = [s["t_s"] / 60 for s in samples]
    for ax, key, label in ((a1, "rss_mb", "server RSS (MB)"), (a2, "heap_mb", "wall JS heap after GC (MB)")):
        for k, name in ((key, "under load"), (f"idle_{key}", "idle (baseline)")):
            ys = [s.get(k) for s in samples]
            pts = [(x, y) for x, y in zip(t, ys) if y is not None]
            slope = summary.get(f"{k}_slope_mb_h", math.nan)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=".", label=f"{name}: last half {slope:+.2f} MB/h")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        if t:
            ax.axvspan(t[-1] / 2, t[-1], color="grey", alpha=0.08)
    a2.set_xlabel("minutes (shaded: the half the slope is fitted on)")
    a1.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
