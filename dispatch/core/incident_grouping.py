"""Triage operations on incidents, as pure functions from the locked state to
a Change (core.changes). The store runs them in one write transaction.

Grouping (core.grouping) decides which incident a new alert joins; scoring
(core.triage) decides its priority. This module applies those decisions,
keeps the history (actor, time, note for every transition), moves units
along, and says which events each change produces."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dispatch.core import lifecycle
from dispatch.core.changes import Change, EventSpec, Saved
from dispatch.core.grouping import AlertFacts, Group, GroupingConfig, assign, disk, expired
from dispatch.core.model import Alert, Incident, Unit, evolve, iso
from dispatch.core.routing import OPS

# Statuses a reporter is told about, as the reporter sees them: no police
# detail (an unfounded or duplicate report is simply closed for them).
REPORTER_STATUS = {
    "acknowledged": "acknowledged",
    "resolved": "resolved",
    "dismissed": "resolved",
    "duplicate": "resolved",
}


@dataclass(frozen=True)
class Policy:
    """The triage decisions this module needs, injected (core.triage and
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


# -- views -----------------------------------------------------------------------


def incident_view(
    inc: Incident, now: datetime, units: Mapping[int, Unit] | None = None, history: bool = False
) -> dict[str, Any]:
    unit: dict[str, Any] | None = None
    if inc.unit_id is not None:
        u = (units or {}).get(inc.unit_id)
        unit = {"id": inc.unit_id, "name": u.name if u else None}
    view: dict[str, Any] = {
        "id": inc.id,
        "category": inc.category,
        "sector": inc.sector,
        "cell": inc.cell,
        "lat": inc.lat,
        "lon": inc.lon,
        "status": inc.status,
        "priority": round(inc.priority, 2),
        "pinned": inc.pinned,
        "witnesses": inc.witnesses,
        "alerts": list(inc.alerts),
        "unit": unit,
        "vulnerable": inc.vulnerable,
        "escalation": inc.escalation,
        "created_at": iso(inc.created_at),
        "updated_at": iso(inc.updated_at),
        "ack_due_at": iso(inc.ack_due_at),
        "acknowledged_at": iso(inc.acknowledged_at) if inc.acknowledged_at else None,
        "resolved_at": iso(inc.resolved_at) if inc.resolved_at else None,
        "overdue": is_overdue(inc, now),
    }
    if history:
        view["history"] = list(inc.history)
    return view


def unit_view(u: Unit) -> dict[str, Any]:
    return {"id": u.id, "name": u.name, "status": u.status, "incident": u.incident_id, "updated_at": iso(u.updated_at)}


def is_overdue(inc: Incident, now: datetime) -> bool:
    return inc.acknowledged_at is None and inc.status in lifecycle.OPEN and now >= inc.ack_due_at


def _entry(now: datetime, actor: int | None, action: str, **extra: Any) -> dict[str, Any]:
    return {"at": iso(now), "actor": actor, "action": action, **{k: v for k, v in extra.items() if v is not None}}


def rescore(inc: Incident, policy: Policy, now: datetime) -> Incident:
    if inc.pinned:
        return inc
    priority, _ = policy.priority(inc, now)
    return evolve(inc, priority=priority)


# -- grouping new alerts -------------------------------------------------------------


def candidate_group(incident: Incident, members: Mapping[int, AlertFacts]) -> Group | None:
    """The incident as grouping sees it, from its members' facts (None if
    none is known)."""
    known = [members[a] for a in incident.alerts if a in members]
    return Group(incident.id, tuple(known)) if known else None


def group(
    alerts: Sequence[Alert],
    candidates: Sequence[Incident],
    candidate_groups: Mapping[int, Group],
    policy: Policy,
    now: datetime,
) -> Change:
    """Attach each new alert, in (created_at, id) order, to the open incident
    core.grouping.assign picks (every member related to it), or open a new
    one. `candidate_groups` holds the candidates as grouping sees them
    (candidate_group), by incident id."""
    pool: dict[int, Incident] = {c.id: c for c in candidates}
    groups: dict[int, Group] = {}
    # groups by their first alert's cell: a group can accept an alert only if
    # its first alert is a neighbour (core.grouping.related), so an alert
    # looks only at the groups first seen in its own disk -- the same answer
    # as scanning them all, without the batch's whole candidate list per alert
    by_cell: dict[str, list[int]] = {}
    for c in candidates:
        g = candidate_groups.get(c.id)
        if g is not None:
            groups[c.id] = g
            by_cell.setdefault(g.first.cell, []).append(c.id)
    touched: dict[int, Incident] = {}
    out_alerts: list[Alert] = []
    next_tmp = -1
    for alert in sorted(alerts, key=lambda a: (a.created_at, a.id)):
        facts = AlertFacts.from_alert(alert)
        near = (groups[k] for c in disk(facts.cell) for k in by_cell.get(c, ()))
        open_groups = [g for g in near if not expired(g, facts.created_at, policy.grouping)]
        key = assign(facts, open_groups, policy.grouping)
        flag = policy.is_vulnerable(alert.text)
        if key is None:
            inc = Incident(
                id=next_tmp,
                category=alert.category,
                sector=alert.sector,
                cell=policy.anchor_cell(alert.lat, alert.lon),
                lat=alert.lat,
                lon=alert.lon,
                status="new",
                priority=alert.priority,
                pinned=False,
                unit_id=None,
                alerts=(alert.id,),
                authors=(alert.author,),
                vulnerable=flag,
                escalation=0,
                created_at=alert.created_at,
                updated_at=now,
                ack_due_at=alert.created_at + timedelta(seconds=policy.ack_target_s(alert.category)),
                history=(_entry(now, None, "opened", alert=alert.id),),
            )
            groups[next_tmp] = Group(next_tmp, (facts,))
            by_cell.setdefault(facts.cell, []).append(next_tmp)
            next_tmp -= 1
        else:
            target = pool[key]
            before = groups[key].first.cell
            g = groups[key] = groups[key].with_alert(facts)
            if g.first.cell != before:  # an alert older than the group's first (clock skew between workers)
                by_cell[before].remove(key)
                by_cell.setdefault(g.first.cell, []).append(key)
            category = g.lead_category
            inc = evolve(
                target,
                alerts=(*target.alerts, alert.id),
                authors=g.authors,
                vulnerable=target.vulnerable or flag,
                category=category,
                ack_due_at=target.created_at + timedelta(seconds=policy.ack_target_s(category)),
                updated_at=now,
                history=(*target.history, _entry(now, None, "grouped", alert=alert.id)),
            )
        inc = rescore(inc, policy, now)
        pool[inc.id] = inc
        touched[inc.id] = inc
        out_alerts.append(evolve(alert, incident=inc.id))

    def render(saved: Saved) -> list[EventSpec]:
        specs = []
        for tmp_or_id in touched:
            real = saved.ids.get(tmp_or_id, tmp_or_id)
            kind = "incident.created" if tmp_or_id < 0 else "incident.updated"
            specs.append(EventSpec(kind, incident_view(saved.incidents[real], now), (OPS,)))
        return specs

    return Change(incidents=tuple(touched.values()), alerts=tuple(out_alerts), render=render)


class PolicyGrouping:
    """The grouping port (dispatch.ports.grouping) over a triage Policy: what
    the store's create_alert transaction calls to group new alerts."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.window_s = policy.window_s

    def neighbourhood(self, alert: Alert) -> list[str]:
        return self.policy.neighbourhood(alert.lat, alert.lon)

    def group(
        self, alerts: Sequence[Alert], candidates: Sequence[Incident], groups: Mapping[int, Group], now: datetime
    ) -> Change:
        return group(alerts, candidates, groups, self.policy, now)
