"""Builds the triage Policy (core.incidents) from configuration: scoring
from core.triage ([triage]), grouping from core.grouping ([triage.grouping])."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from dispatch.core import grouping
from dispatch.core import scoring as triage
from dispatch.core.incident_grouping import Policy
from dispatch.core.model import Incident


def build_policy(raw: Mapping[str, Any]) -> tuple[Policy, triage.TriageConfig]:
    gcfg = grouping.GroupingConfig.from_mapping(dict(raw.get("grouping", {})))
    cfg = triage.TriageConfig.from_mapping(raw)

    def neighbourhood(lat: float, lon: float) -> list[str]:
        return sorted(grouping.disk(grouping.cell_at_grouping_res(lat, lon)))

    def priority(inc: Incident, now: datetime) -> tuple[float, bool]:
        # an incident remembers whether any report flagged a vulnerable
        # person, not the texts themselves
        s = triage.score(
            inc.category,
            inc.witnesses,
            (),
            (now - inc.created_at).total_seconds(),
            inc.acknowledged_at is not None,
            None,
            cfg,
            vulnerable=inc.vulnerable,
        )
        return s.priority, s.overdue

    policy = Policy(
        window_s=gcfg.window_s,
        neighbourhood=neighbourhood,
        anchor_cell=grouping.cell_at_grouping_res,
        grouping=gcfg,
        priority=priority,
        ack_target_s=lambda category: triage.ack_target_s(category, cfg),
        is_vulnerable=lambda text: bool(triage.vulnerable_matches([text], cfg)),
        escalation_level=lambda category, age_s: triage.escalation_steps(category, age_s, False, cfg),
        max_escalation=cfg.max_steps,
    )
    return policy, cfg
