"""What operators do to incidents: change status, assign a unit, pin a
priority, merge, split; and what time does: escalate the overdue. Each is a
pure `decide(state) -> Change` run by the store in one transaction."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from dispatch.core import lifecycle
from dispatch.core.changes import Change, Decide, EventSpec, Saved, TriageState, history_entry
from dispatch.core.lifecycle import RESIDENT_STATUS, is_overdue
from dispatch.core.model import Alert, Incident, Unit, iso
from dispatch.core.routing import OPS
from dispatch.core.triage_policy import Policy, rescore
from dispatch.core.validation import AlertPatch, IncidentPatch, InputError
from dispatch.core.views import alert_staff, incident_view, unit_view


# Statuses a reporter is told about, as the reporter sees them: no police
# detail (an unfounded or duplicate report is simply closed for them).
def _get(state: TriageState, incident_id: int) -> Incident:
    inc = state.incidents.get(incident_id)
    if inc is None:
        raise InputError(404, "not_found", f"no incident {incident_id}")
    return inc


def _follow(alerts: Sequence[Alert], status: str, now: datetime) -> list[Alert]:
    """The incident's alerts take its status where their own lifecycle allows."""
    return [
        dataclasses.replace(a, status=status, updated_at=now)
        for a in alerts
        if a.status != status and lifecycle.allowed(a.status, status)
    ]


def _render(
    incidents: Sequence[int | Incident],
    alerts_before: Mapping[int, Alert],
    homes: Mapping[int, str],
    now: datetime,
    created: Sequence[int] = (),
) -> Any:
    """Events for a change: incident.created/updated, alert.updated, and
    alert.status to each reporter whose alert changed visibly for them."""

    def render(saved: Saved) -> list[EventSpec]:
        specs = []
        for ref in incidents:
            iid = ref.id if isinstance(ref, Incident) else ref
            real = saved.ids.get(iid, iid)
            kind = "incident.created" if iid in created else "incident.updated"
            specs.append(EventSpec(kind, incident_view(saved.incidents[real], now, saved.units), (OPS,)))
        for a in saved.alerts.values():
            specs.append(EventSpec("alert.updated", alert_staff(a), (OPS,)))
            before = alerts_before.get(a.id)
            shown = RESIDENT_STATUS[a.status]  # one mapping, core/lifecycle.py
            author = a.author  # None: anonymous, nobody to tell
            changed = before is None or RESIDENT_STATUS[before.status] != shown
            if changed and shown != "new" and author is not None and author in homes:
                data = {"id": a.id, "status": shown, "updated_at": iso(now), "author": author}
                specs.append(EventSpec("alert.status", data, (homes[author],)))
        return specs

    return render


def patch(incident_id: int, actor: int, p: IncidentPatch, policy: Policy, homes: Mapping[int, str]) -> Decide:
    def decide(state: TriageState) -> Change:
        now = state.now
        inc = _get(state, incident_id)
        history = list(inc.history)
        units: dict[int, Unit] = {}
        status = inc.status
        if p.unit is not None:
            inc = _assign(state, inc, p.unit, units)
            history.append(history_entry(now, actor, "assigned", unit=p.unit, note=p.note))
            if p.status is None and inc.status in ("new", "acknowledged"):
                status = "assigned"
        if p.status is not None:
            status = p.status
        if status != inc.status:
            try:
                lifecycle.check(inc.status, status)
            except lifecycle.TransitionError as exc:
                raise InputError(409, "forbidden_transition", str(exc), "status") from None
            history.append(history_entry(now, actor, "status", **{"from": inc.status, "to": status, "note": p.note}))
            inc = dataclasses.replace(inc, status=status)
            if inc.acknowledged_at is None:
                inc = dataclasses.replace(inc, acknowledged_at=now)
            if status in lifecycle.CLOSED:
                inc = dataclasses.replace(inc, resolved_at=now)
                if inc.unit_id is not None and inc.unit_id in state.units:
                    units[inc.unit_id] = _release(units.get(inc.unit_id, state.units[inc.unit_id]), now)
        if p.clear_unit and inc.unit_id is not None:
            if inc.unit_id in state.units:
                units[inc.unit_id] = _release(state.units[inc.unit_id], now)
            history.append(history_entry(now, actor, "unassigned", unit=inc.unit_id, note=p.note))
            inc = dataclasses.replace(inc, unit_id=None)
        if p.priority is not None:
            history.append(history_entry(now, actor, "pinned", priority=p.priority, note=p.note))
            inc = dataclasses.replace(inc, pinned=True, priority=p.priority)
        if p.unpin and inc.pinned:
            history.append(history_entry(now, actor, "unpinned", note=p.note))
            inc = dataclasses.replace(inc, pinned=False)
        if p.note is not None and len(history) == len(inc.history):
            history.append(history_entry(now, actor, "note", note=p.note))
        inc = rescore(dataclasses.replace(inc, history=tuple(history), updated_at=now), policy, now)
        mine = [state.alerts[i] for i in inc.alerts if i in state.alerts]
        alerts = _follow(mine, inc.status, now)
        return Change(
            incidents=(inc,),
            alerts=tuple(alerts),
            units=tuple(units.values()),
            render=_render([inc], state.alerts, homes, now),
        )

    return decide


def _assign(state: TriageState, inc: Incident, unit_id: int, units: dict[int, Unit]) -> Incident:
    """The unit takes the incident (busy), releasing the one it had; `units`
    collects the units changed."""
    unit = state.units.get(unit_id)
    if unit is None:
        raise InputError(422, "unknown_unit", f"no unit {unit_id}", "unit")
    if unit.status == "off_duty" or (unit.status == "busy" and unit.incident_id != inc.id):
        raise InputError(409, "unit_unavailable", f"unit {unit.name} is {unit.status}", "unit")
    if inc.status in lifecycle.CLOSED:
        raise InputError(409, "forbidden_transition", "this incident is closed", "unit")
    if inc.unit_id is not None and inc.unit_id != unit.id and inc.unit_id in state.units:
        units[inc.unit_id] = _release(state.units[inc.unit_id], state.now)
    units[unit.id] = dataclasses.replace(unit, status="busy", incident_id=inc.id, updated_at=state.now)
    return dataclasses.replace(inc, unit_id=unit.id)


def _release(unit: Unit, now: datetime) -> Unit:
    status = "available" if unit.status == "busy" else unit.status
    return dataclasses.replace(unit, status=status, incident_id=None, updated_at=now)


def _recount(inc: Incident, alerts: Sequence[Alert], policy: Policy) -> Incident:
    """Members, witnesses and anchor from the alerts: the anchor (cell,
    position, creation) is the earliest alert's, which is what grouping
    looks candidates up by."""
    ordered = sorted(alerts, key=lambda a: (a.created_at, a.id))
    authors: list[int] = []
    for a in ordered:
        if a.author is not None and a.author not in authors:
            authors.append(a.author)
    first = ordered[0]
    return dataclasses.replace(
        inc,
        cell=policy.anchor_cell(first.lat, first.lon),
        lat=first.lat,
        lon=first.lon,
        created_at=first.created_at,
        ack_due_at=first.created_at + timedelta(seconds=policy.ack_target_s(inc.category)),
        alerts=tuple(a.id for a in ordered),
        authors=tuple(authors),
        vulnerable=any(policy.is_vulnerable(a.text) for a in ordered),
    )


def merge(target_id: int, others: Sequence[int], actor: int, policy: Policy, homes: Mapping[int, str]) -> Decide:
    def decide(state: TriageState) -> Change:
        now = state.now
        target = _get(state, target_id)
        victims = [_get(state, i) for i in others if i != target_id]
        if not victims:
            raise InputError(422, "missing_field", "name at least one other incident to merge", "incidents")
        for inc in (target, *victims):
            if inc.status in lifecycle.CLOSED:
                raise InputError(409, "forbidden_transition", f"incident {inc.id} is closed", "incidents")
        moved = [state.alerts[a] for v in victims for a in v.alerts if a in state.alerts]
        kept = [state.alerts[a] for a in target.alerts if a in state.alerts]
        merged = _recount(target, kept + moved, policy)
        merged = dataclasses.replace(
            merged,
            updated_at=now,
            history=(*target.history, history_entry(now, actor, "merged", incidents=[v.id for v in victims])),
        )
        merged = rescore(merged, policy, now)
        units: list[Unit] = []
        closed = []
        for v in victims:
            if v.unit_id is not None and v.unit_id in state.units and v.unit_id != merged.unit_id:
                units.append(_release(state.units[v.unit_id], now))
            closed.append(
                dataclasses.replace(
                    v,
                    status="duplicate",
                    alerts=(),
                    authors=(),
                    resolved_at=now,
                    updated_at=now,
                    unit_id=None,
                    history=(*v.history, history_entry(now, actor, "merged_into", incident=target.id)),
                )
            )
        alerts = [dataclasses.replace(a, incident=target.id, updated_at=now) for a in moved]
        return Change(
            incidents=(merged, *closed),
            alerts=tuple(alerts),
            units=tuple(units),
            render=_render([merged, *closed], state.alerts, homes, now),
        )

    return decide


def split(incident_id: int, alert_ids: Sequence[int], actor: int, policy: Policy, homes: Mapping[int, str]) -> Decide:
    def decide(state: TriageState) -> Change:
        now = state.now
        inc = _get(state, incident_id)
        chosen = set(alert_ids)
        if not chosen or not chosen <= set(inc.alerts):
            raise InputError(422, "unknown_alert", "split names alerts of this incident", "alerts")
        if chosen == set(inc.alerts):
            raise InputError(422, "out_of_range", "leave at least one alert in the incident", "alerts")
        moved = sorted((state.alerts[a] for a in chosen), key=lambda a: (a.created_at, a.id))
        kept = [state.alerts[a] for a in inc.alerts if a not in chosen]
        first = moved[0]
        fresh = Incident(
            id=-1,
            category=first.category,
            sector=first.sector,
            cell=policy.anchor_cell(first.lat, first.lon),
            lat=first.lat,
            lon=first.lon,
            status="new",
            priority=0.0,
            pinned=False,
            unit_id=None,
            alerts=(),
            authors=(),
            vulnerable=False,
            escalation=0,
            created_at=first.created_at,
            updated_at=now,
            ack_due_at=first.created_at + policy_ack(policy, first.category),
            history=(history_entry(now, actor, "split_from", incident=inc.id),),
        )
        fresh = rescore(_recount(fresh, moved, policy), policy, now)
        rest = _recount(inc, kept, policy)
        rest = rescore(
            dataclasses.replace(
                rest, updated_at=now, history=(*inc.history, history_entry(now, actor, "split", alerts=sorted(chosen)))
            ),
            policy,
            now,
        )
        alerts = [dataclasses.replace(a, incident=-1, updated_at=now) for a in moved]
        return Change(
            incidents=(rest, fresh),
            alerts=tuple(alerts),
            render=_render([rest, fresh], state.alerts, homes, now, created=(-1,)),
        )

    return decide


def policy_ack(policy: Policy, category: str) -> timedelta:
    return timedelta(seconds=policy.ack_target_s(category))


def level_at(category: str, created_at: datetime, now: datetime, policy: Policy) -> int:
    """core.scoring's escalation steps: one per acknowledgement target
    elapsed, up to where the priority stops rising."""
    return policy.escalation_level(category, (now - created_at).total_seconds())


def escalate(incident_ids: Sequence[int], policy: Policy) -> Decide:
    """Overdue and unacknowledged: raise the priority one step per elapsed
    acknowledgement target (at most the policy's maximum), and say so."""

    def decide(state: TriageState) -> Change:
        now = state.now
        out = []
        for iid in incident_ids:
            inc = state.incidents.get(iid)
            if inc is None or not is_overdue(inc, now):
                continue
            level = level_at(inc.category, inc.created_at, now, policy)
            if level <= inc.escalation:
                continue
            history = (*inc.history, history_entry(now, None, "escalated", level=level))
            out.append(
                rescore(dataclasses.replace(inc, escalation=level, updated_at=now, history=history), policy, now)
            )
        return Change(incidents=tuple(out), render=_render(out, {}, {}, now))

    return decide


def patch_alert(alert_id: int, actor: int, p: AlertPatch, homes: Mapping[int, str]) -> Decide:
    """PATCH /api/alerts/{id} (docs/reference.md): one alert's own status, priority,
    assignee and notes; its reporter hears of acknowledgement and resolution."""

    def decide(state: TriageState) -> Change:
        now = state.now
        alert = state.alerts.get(alert_id)
        if alert is None:
            raise InputError(404, "not_found", f"no alert {alert_id}")
        changes: dict[str, Any] = {"updated_at": now}
        if p.status is not None and p.status != alert.status:
            try:
                lifecycle.check(alert.status, p.status)
            except lifecycle.TransitionError as exc:
                raise InputError(409, "forbidden_transition", str(exc), "status") from None
            changes["status"] = p.status
        if p.priority is not None:
            changes["priority"] = p.priority
        if p.assignee is not None:
            changes["assignee"] = p.assignee
        elif p.clear_assignee:
            changes["assignee"] = None
        if p.note is not None or "status" in changes:
            entry: dict[str, Any] = {"at": iso(now), "by": actor, "status": changes.get("status", alert.status)}
            if p.note is not None:
                entry["note"] = p.note
            changes["notes"] = (*alert.notes, entry)
        new = dataclasses.replace(alert, **changes)
        return Change(alerts=(new,), render=_render([], state.alerts, homes, now))

    return decide


def set_unit_status(unit_id: int, status: str) -> Decide:
    """A unit's own status; an engaged unit stays busy until unassigned."""

    def decide(state: TriageState) -> Change:
        unit = state.units.get(unit_id)
        if unit is None:
            raise InputError(404, "not_found", f"no unit {unit_id}")
        if unit.incident_id is not None and status != "busy":
            raise InputError(409, "unit_engaged", "unassign the unit from its incident first", "status")
        new = dataclasses.replace(unit, status=status, updated_at=state.now)
        return Change(
            units=(new,), render=lambda saved: [EventSpec("unit.updated", unit_view(saved.units[unit_id]), (OPS,))]
        )

    return decide
