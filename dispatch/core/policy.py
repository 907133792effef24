"""Builds the triage Policy (core.incidents) from configuration: scoring
from core.triage, grouping from core.grouping."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import h3

from dispatch.core import triage
from dispatch.core.incidents import Policy
from dispatch.core.model import Alert, Incident

# Grouping neighbourhood: a cell and its first ring at this resolution. At
# res 9 the shortest distance from a point to the outside of its cell's ring
# exceeds 50 m everywhere (core.grouping justifies it; tests check it), so
# reports 50 m apart always share a neighbourhood.
GROUP_RES = 9
WINDOW_S = 15 * 60.0

# Categories that describe the same event seen differently.
COMPATIBLE = [
    frozenset({"burglary", "theft", "suspicious"}),
    frozenset({"fire", "weather"}),
]


def compatible(a: str, b: str) -> bool:
    return a == b or any(a in group and b in group for group in COMPATIBLE)


def build_policy(raw: Mapping[str, Any]) -> tuple[Policy, triage.TriageConfig]:
    grouping_raw = dict(raw.get("grouping", {}))
    window_s = float(grouping_raw.get("window_min", WINDOW_S / 60)) * 60
    cfg = triage.TriageConfig.from_mapping({k: v for k, v in raw.items() if k != "grouping"})
    flag_text = cfg.vulnerable_words[0] if cfg.vulnerable_words else ""

    def anchor_cell(lat: float, lon: float) -> str:
        return str(h3.latlng_to_cell(lat, lon, GROUP_RES))

    def neighbourhood(lat: float, lon: float) -> list[str]:
        return sorted(h3.grid_disk(anchor_cell(lat, lon), 1))

    def joins(alert: Alert, inc: Incident) -> bool:
        age = (alert.created_at - inc.created_at).total_seconds()
        return (
            compatible(alert.category, inc.category)
            and 0 <= age <= window_s
            and anchor_cell(alert.lat, alert.lon) in h3.grid_disk(inc.cell, 1)
        )

    def priority(inc: Incident, now: datetime) -> tuple[float, bool]:
        # an incident remembers whether any report flagged a vulnerable
        # person, not the texts themselves
        s = triage.score(
            inc.category,
            inc.witnesses,
            [flag_text] if inc.vulnerable else [],
            (now - inc.created_at).total_seconds(),
            inc.acknowledged_at is not None,
            None,
            cfg,
        )
        return s.priority, s.overdue

    policy = Policy(
        window_s=window_s,
        neighbourhood=neighbourhood,
        anchor_cell=anchor_cell,
        joins=joins,
        priority=priority,
        ack_target_s=lambda category: triage.ack_target_s(category, cfg),
        is_vulnerable=lambda text: bool(triage.vulnerable_matches([text], cfg)),
    )
    return policy, cfg
