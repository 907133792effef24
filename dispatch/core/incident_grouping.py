"""Grouping new alerts into incidents, as a pure function from the new alerts
and the candidate incidents to a Change (core.changes): which incident each
alert joins (the rule is core.grouping), or which it opens. The store runs
it inside the transaction that stores the alerts (dispatch.ports.grouping)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from dispatch.core.changes import Change, EventSpec, Saved, history_entry
from dispatch.core.grouping import AlertFacts, Group, assign, disk, expired
from dispatch.core.model import Alert, Incident, evolve
from dispatch.core.routing import OPS
from dispatch.core.triage_policy import Policy, rescore
from dispatch.core.views import incident_view


def candidate_group(incident: Incident, members: Mapping[int, AlertFacts]) -> Group | None:
    """The incident as grouping sees it, from its members' facts (None if
    none is known)."""
    known = [members[a] for a in incident.alerts if a in members]
    return Group(incident.id, tuple(known)) if known else None


def _opened(alert: Alert, tmp_id: int, flag: bool, policy: Policy, now: datetime) -> Incident:
    """The incident a lone alert opens, under a temporary (negative) id."""
    return Incident(
        id=tmp_id,
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
        authors=() if alert.author is None else (alert.author,),
        vulnerable=flag,
        escalation=0,
        created_at=alert.created_at,
        updated_at=now,
        ack_due_at=alert.created_at + timedelta(seconds=policy.ack_target_s(alert.category)),
        history=(history_entry(now, None, "opened", alert=alert.id),),
    )


class _Batch:
    """The open groups one batch of new alerts is matched against, indexed by
    their first alert's cell: a group can accept an alert only if its first
    alert is a neighbour (core.grouping.related), so an alert looks only at
    the groups first seen in its own disk -- the same answer as scanning them
    all, without the batch's whole candidate list per alert."""

    def __init__(self, candidates: Sequence[Incident], candidate_groups: Mapping[int, Group]) -> None:
        self.incidents: dict[int, Incident] = {c.id: c for c in candidates}
        self.groups: dict[int, Group] = {}
        self.by_cell: dict[str, list[int]] = {}
        for c in candidates:
            g = candidate_groups.get(c.id)
            if g is not None:
                self.groups[c.id] = g
                self.by_cell.setdefault(g.first.cell, []).append(c.id)

    def near(self, facts: AlertFacts) -> Iterable[Group]:
        return (self.groups[k] for c in disk(facts.cell) for k in self.by_cell.get(c, ()))

    def add(self, key: int, group: Group) -> None:
        self.groups[key] = group
        self.by_cell.setdefault(group.first.cell, []).append(key)

    def extend(self, key: int, facts: AlertFacts) -> Group:
        before = self.groups[key].first.cell
        g = self.groups[key] = self.groups[key].with_alert(facts)
        if g.first.cell != before:  # an alert older than the group's first (clock skew between workers)
            self.by_cell[before].remove(key)
            self.by_cell.setdefault(g.first.cell, []).append(key)
        return g


def attach_new_alerts(
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
    batch = _Batch(candidates, candidate_groups)
    touched: dict[int, Incident] = {}
    out_alerts: list[Alert] = []
    next_tmp = -1
    for alert in sorted(alerts, key=lambda a: (a.created_at, a.id)):
        facts = AlertFacts.from_alert(alert)
        open_groups = [g for g in batch.near(facts) if not expired(g, facts.created_at, policy.grouping)]
        key = assign(facts, open_groups, policy.grouping)
        flag = policy.is_vulnerable(alert.text)
        if key is None:
            inc = _opened(alert, next_tmp, flag, policy, now)
            batch.add(next_tmp, Group(next_tmp, (facts,)))
            next_tmp -= 1
        else:
            target = batch.incidents[key]
            g = batch.extend(key, facts)
            inc = evolve(
                target,
                alerts=(*target.alerts, alert.id),
                authors=g.authors,
                vulnerable=target.vulnerable or flag,
                category=g.lead_category,
                ack_due_at=target.created_at + timedelta(seconds=policy.ack_target_s(g.lead_category)),
                updated_at=now,
                history=(*target.history, history_entry(now, None, "grouped", alert=alert.id)),
            )
        inc = rescore(inc, policy, now)
        batch.incidents[inc.id] = touched[inc.id] = inc
        out_alerts.append(evolve(alert, incident=inc.id))

    def render(saved: Saved) -> list[EventSpec]:
        specs = []
        for tmp_or_id in touched:
            real = saved.ids.get(tmp_or_id, tmp_or_id)
            kind = "incident.created" if tmp_or_id < 0 else "incident.updated"
            specs.append(EventSpec(kind, incident_view(saved.incidents[real], now, saved.units), (OPS,)))
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

    def attach(
        self, alerts: Sequence[Alert], candidates: Sequence[Incident], groups: Mapping[int, Group], now: datetime
    ) -> Change:
        return attach_new_alerts(alerts, candidates, groups, self.policy, now)
