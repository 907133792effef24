"""Statistics for supervisors, computed from raw rows. Pure.

Definitions (the oracle in tests/test_stats.py recomputes them the same way
from the database rows):
- counts: alerts by sector x category x day (UTC date of created_at);
- time to acknowledge / resolve: per incident, acknowledged_at - created_at
  and resolved_at - created_at, in seconds, over the incidents created in
  the window that have them; median is the usual median (mean of the two
  middle values), p90 the nearest-rank 90th percentile;
- solidarity share: mutual-aid alerts / all alerts in the window."""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from dispatch.core.categories import CATEGORIES
from dispatch.core.model import Alert, Incident


def nearest_rank(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def durations(values: Sequence[float]) -> dict[str, Any]:
    return {
        "n": len(values),
        "median_s": statistics.median(values) if values else None,
        "p90_s": nearest_rank(values, 0.9),
    }


def compute(alerts: Sequence[Alert], incidents: Sequence[Incident], since: datetime, until: datetime) -> dict[str, Any]:
    counts = Counter((a.sector, a.category, a.created_at.date().isoformat()) for a in alerts)
    ack = [(i.acknowledged_at - i.created_at).total_seconds() for i in incidents if i.acknowledged_at]
    res = [(i.resolved_at - i.created_at).total_seconds() for i in incidents if i.resolved_at]
    solidarity = sum(1 for a in alerts if CATEGORIES.get(a.category) and CATEGORIES[a.category].solidarity)
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "alerts": len(alerts),
        "incidents": len(incidents),
        "counts": [{"sector": s, "category": c, "day": d, "count": n} for (s, c, d), n in sorted(counts.items())],
        "time_to_acknowledge": durations(ack),
        "time_to_resolve": durations(res),
        "solidarity_share": (solidarity / len(alerts)) if alerts else None,
    }


def to_csv(stats: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["sector", "category", "day", "count"])
    for row in stats["counts"]:
        writer.writerow([row["sector"], row["category"], row["day"], row["count"]])
    return out.getvalue()
