"""PNG plots of the bench results (matplotlib, Agg: no display needed)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench.common import RESULTS


def _ok(v: Any) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def name(base: str, quick: bool) -> str:
    """Quick runs get their own files, so they never overwrite a full run's plots."""
    return f"{base}-quick.png" if quick else f"{base}.png"


def lines(
    path: str,
    title: str,
    xlabel: str,
    ylabel: str,
    series: Mapping[str, Sequence[tuple[float, float]]],
    logx: bool = False,
    logy: bool = False,
) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for name, pts in series.items():
        pts = sorted((x, y) for x, y in pts if _ok(x) and _ok(y))
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = RESULTS / path
    fig.savefig(out)
    plt.close(fig)
    return out


def by_target(
    rows: Sequence[dict[str, Any]], x: str, y: str, group: str = "target"
) -> dict[str, list[tuple[float, float]]]:
    series: dict[str, list[tuple[float, float]]] = {}
    for r in rows:
        series.setdefault(str(r.get(group)), []).append((r.get(x, math.nan), r.get(y, math.nan)))
    return series
