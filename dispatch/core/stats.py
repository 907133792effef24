"""Statistics for supervisors, computed from raw rows. Pure.

Definitions (the oracle in tests/test_stats.py recomputes them the same way
from the database rows):
- counts: alerts by sector x category x day (UTC date of created_at);
- time to acknowledge / resolve: per incident, acknowledged_at - created_at
  and resolved_at - created_at, in seconds, over the incidents created in
  the window that have them; median is the usual median (mean of the two
  middle values), p90 the nearest-rank 90th percentile;
- solidarity share: mutual-aid alerts / all alerts in the window;
- per_sector: the two times above over each sector's incidents (the sector
  of the incident), for every sector with an incident or an alert;
- per_day: alerts by UTC day x category, city-wide (the desk's chart)."""

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
    per_day = Counter((a.created_at.date().isoformat(), a.category) for a in alerts)
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
        "per_sector": per_sector(alerts, incidents),
        "per_day": [{"day": d, "category": c, "count": n} for (d, c), n in sorted(per_day.items())],
    }


def per_sector(alerts: Sequence[Alert], incidents: Sequence[Incident]) -> list[dict[str, Any]]:
    sectors = sorted({a.sector for a in alerts} | {i.sector for i in incidents}, key=lambda s: (s is None, s or ""))
    out = []
    for sector in sectors:
        mine = [i for i in incidents if i.sector == sector]
        ack = [(i.acknowledged_at - i.created_at).total_seconds() for i in mine if i.acknowledged_at]
        res = [(i.resolved_at - i.created_at).total_seconds() for i in mine if i.resolved_at]
        out.append({"sector": sector, "time_to_acknowledge": durations(ack), "time_to_resolve": durations(res)})
    return out


def to_csv(stats: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["sector", "category", "day", "count"])
    for row in stats["counts"]:
        writer.writerow([row["sector"], row["category"], row["day"], row["count"]])
    return out.getvalue()
