"""Operators' work on incidents and alerts: change status, assign a unit, pin,
merge, split, patch one alert; and the incident views the desk reads. The
decisions are pure (core.incident_decisions); TriageWriter commits them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from dispatch.core import incident_decisions
from dispatch.core.audit import entry, identity_views
from dispatch.core.model import IncidentQuery, User, evolve, utcnow
from dispatch.core.triage_policy import Policy
from dispatch.core.validation import AlertPatch, IncidentPatch, InputError
from dispatch.core.views import alert_staff, incident_view
from dispatch.ports.store import Store
from dispatch.usecases.triage_writes import TriageWriter


async def actor_names(store: Store, histories: Iterable[Sequence[dict[str, Any]]]) -> dict[int, str]:
    """The display names of the staff who acted in these histories: the
    account's name, or its e-mail when it has none (issue 18: the desk read
    "compte 45")."""
    out: dict[int, str] = {}
    for actor in sorted({e["actor"] for h in histories for e in h if e.get("actor") is not None}):
        user = await store.user_by_id(actor)
        if user is not None:
            out[actor] = user.name or user.email
    return out


class Incidents:
    def __init__(self, store: Store, writer: TriageWriter, policy: Policy) -> None:
        self.store = store
        self.writer = writer
        self.policy = policy

    async def patch(self, actor: User, incident_id: int, patch: IncidentPatch) -> dict[str, Any]:
        homes = await self.writer.reporter_channels(await self.writer.authors_of([incident_id]))
        units = [patch.unit] if patch.unit is not None else []
        decide = incident_decisions.patch(incident_id, actor.id, patch, self.policy, homes)
        saved = await self.writer.run(
            [incident_id], [], units, decide, [entry("incident.patch", "incident", incident_id, actor.id)]
        )
        return incident_view(saved.incidents[incident_id], utcnow(), saved.units)

    async def merge(self, actor: User, target: int, others: Sequence[int]) -> dict[str, Any]:
        ids = [target, *others]
        homes = await self.writer.reporter_channels(await self.writer.authors_of(ids))
        decide = incident_decisions.merge(target, others, actor.id, self.policy, homes)
        saved = await self.writer.run(ids, [], [], decide, [entry("incident.merge", "incident", target, actor.id)])
        return incident_view(saved.incidents[target], utcnow(), saved.units)

    async def split(self, actor: User, incident_id: int, alert_ids: Sequence[int]) -> dict[str, Any]:
        homes = await self.writer.reporter_channels(await self.writer.authors_of([incident_id]))
        decide = incident_decisions.split(incident_id, alert_ids, actor.id, self.policy, homes)
        saved = await self.writer.run(
            [incident_id], [], [], decide, [entry("incident.split", "incident", incident_id, actor.id)]
        )
        return incident_view(saved.incidents[saved.ids[-1]], utcnow(), saved.units)

    async def patch_alert(self, actor: User, alert_id: int, patch: AlertPatch) -> dict[str, Any]:
        alert = await self.store.get_alert(alert_id)
        homes = await self.writer.reporter_channels([alert.author]) if alert is not None and alert.author else {}
        decide = incident_decisions.patch_alert(alert_id, actor.id, patch, homes)
        saved = await self.writer.run([], [alert_id], [], decide, [entry("alert.patch", "alert", alert_id, actor.id)])
        return alert_staff(saved.alerts[alert_id])

    async def listing(self, query: IncidentQuery) -> list[dict[str, Any]]:
        now = utcnow()
        units = {u.id: u for u in await self.store.list_units()}
        return [incident_view(i, now, units) for i in await self.store.list_incidents(query)]

    async def detail(self, viewer: User, incident_id: int) -> dict[str, Any]:
        """The incident with its history and its alerts' exact points and
        authors, whose identity the viewer is then recorded to have seen."""
        inc = await self.store.get_incident(incident_id)
        if inc is None:
            raise InputError(404, "not_found", f"no incident {incident_id}")
        units = {u.id: u for u in await self.store.list_units()}
        history = (await self.store.incident_history([incident_id])).get(incident_id, ())
        names = await actor_names(self.store, [history])
        view = incident_view(evolve(inc, history=history), utcnow(), units, history=True, names=names)
        details = []
        for alert in await self.store.incident_alerts(inc):
            author = await self.store.user_by_id(alert.author) if alert.author is not None else None
            details.append({**alert_staff(alert), "author_name": author.name if author else None})
        view["alert_details"] = details
        await self.store.record_audit(identity_views(viewer.id, (d["author"] for d in details)))
        return view
