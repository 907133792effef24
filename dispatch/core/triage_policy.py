"""The triage Policy: the decisions incident grouping and incident decisions
need, injected as functions, and built from configuration: scoring from
core.scoring ([triage]), grouping from core.grouping ([scoring.grouping])."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dispatch.core import grouping, scoring
from dispatch.core.grouping import GroupingConfig
from dispatch.core.model import Incident, evolve


@dataclass(frozen=True)
class Policy:
    """The triage decisions this module needs, injected (core.scoring and
    core.grouping provide them)."""

    window_s: float
    neighbourhood: Callable[[float, float], list[str]]  # grouping cells around a point
    anchor_cell: Callable[[float, float], str]
    grouping: GroupingConfig
    priority: Callable[[Incident, datetime], tuple[float, bool]]  # (priority, overdue) unless pinned
    ack_target_s: Callable[[str], float]
    is_vulnerable: Callable[[str], bool]
    escalation_level: Callable[[str, float], int]  # (category, age_s) while unacknowledged
    max_escalation: int


def rescore(inc: Incident, policy: Policy, now: datetime) -> Incident:
    if inc.pinned:
        return inc
    priority, _ = policy.priority(inc, now)
    return evolve(inc, priority=priority)


def build_policy(raw: Mapping[str, Any]) -> tuple[Policy, scoring.TriageConfig]:
    gcfg = grouping.GroupingConfig.from_mapping(dict(raw.get("grouping", {})))
    cfg = scoring.TriageConfig.from_mapping(raw)

    def neighbourhood(lat: float, lon: float) -> list[str]:
        return sorted(grouping.disk(grouping.cell_at_grouping_res(lat, lon)))

    def priority(inc: Incident, now: datetime) -> tuple[float, bool]:
        # an incident remembers whether any report flagged a vulnerable
        # person, not the texts themselves
        s = scoring.score(
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
        ack_target_s=lambda category: scoring.ack_target_s(category, cfg),
        is_vulnerable=lambda text: bool(scoring.vulnerable_matches([text], cfg)),
        escalation_level=lambda category, age_s: scoring.escalation_steps(category, age_s, False, cfg),
        max_escalation=cfg.max_steps,
    )
    return policy, cfg
