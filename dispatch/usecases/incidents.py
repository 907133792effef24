"""Triage use cases: incidents, units, escalation, statistics. The decisions
are pure (core.incident_ops); this module loads what they need, runs them in
the store's triage transaction, and publishes the events."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from dispatch.core import incident_decisions, stats
from dispatch.core.changes import Decide, Saved
from dispatch.core.incident_grouping import Policy, incident_view, unit_view
from dispatch.core.model import AlertQuery, Incident, IncidentQuery, User, evolve, utcnow
from dispatch.core.routing import home_channel
from dispatch.core.validation import InputError
from dispatch.core.views import alert_staff
from dispatch.live.sequencer import Sequencer
from dispatch.ports.store import Store

log = logging.getLogger("dispatch.triage")

ESCALATION_EVERY_S = 5.0
HANDOVER_HOURS = 12


class Triage:
    def __init__(
        self, store: Store, sequencer: Sequencer, policy: Policy, sector_of: Callable[[float, float], str | None]
    ) -> None:
        self.store = store
        self.sector_of = sector_of  # the city's: a home's sector decides its channel
        self.sequencer = sequencer
        self.policy = policy
        self._task: asyncio.Task[None] | None = None

    async def _run(
        self, incidents: Sequence[int], alerts: Sequence[int], units: Sequence[int], decide: Decide
    ) -> Saved:
        saved, events = await self.store.triage(incidents, alerts, units, decide, utcnow())
        for event in events:
            await self.sequencer.publish(event)
        return saved

    async def _homes(self, authors: Iterable[int]) -> dict[int, str]:
        """Each reporter's stream channel, for alert.status."""
        out = {}
        for uid in set(authors):
            user = await self.store.user_by_id(uid)
            if user is not None and user.home_lat is not None and user.home_lon is not None:
                lat, lon = user.home_lat, user.home_lon
                out[uid] = home_channel(lat, lon, self.sector_of(lat, lon))
        return out

    async def _authors_of(self, incident_ids: Iterable[int]) -> list[int]:
        authors: list[int] = []
        for iid in incident_ids:
            inc = await self.store.get_incident(iid)
            if inc is not None:
                authors.extend(inc.authors)
        return authors

    # operators ----------------------------------------------------------------
    async def patch(self, actor: User, incident_id: int, patch: incident_decisions.IncidentPatch) -> dict[str, Any]:
        homes = await self._homes(await self._authors_of([incident_id]))
        units = [patch.unit] if patch.unit is not None else []
        decide = incident_decisions.patch(incident_id, actor.id, patch, self.policy, homes)
        saved = await self._run([incident_id], [], units, decide)
        return incident_view(saved.incidents[incident_id], utcnow(), saved.units)

    async def merge(self, actor: User, target: int, others: Sequence[int]) -> dict[str, Any]:
        ids = [target, *others]
        homes = await self._homes(await self._authors_of(ids))
        saved = await self._run(ids, [], [], incident_decisions.merge(target, others, actor.id, self.policy, homes))
        return incident_view(saved.incidents[target], utcnow(), saved.units)

    async def split(self, actor: User, incident_id: int, alert_ids: Sequence[int]) -> dict[str, Any]:
        homes = await self._homes(await self._authors_of([incident_id]))
        saved = await self._run(
            [incident_id], [], [], incident_decisions.split(incident_id, alert_ids, actor.id, self.policy, homes)
        )
        return incident_view(saved.incidents[saved.ids[-1]], utcnow(), saved.units)

    async def patch_alert(self, actor: User, alert_id: int, patch: Any) -> dict[str, Any]:
        alert = await self.store.get_alert(alert_id)
        homes = await self._homes([alert.author]) if alert is not None else {}
        saved = await self._run([], [alert_id], [], incident_decisions.patch_alert(alert_id, actor.id, patch, homes))
        return alert_staff(saved.alerts[alert_id])

    # reads ----------------------------------------------------------------------
    async def listing(self, query: IncidentQuery) -> list[dict[str, Any]]:
        now = utcnow()
        units = {u.id: u for u in await self.store.list_units()}
        return [incident_view(i, now, units) for i in await self.store.list_incidents(query)]

    async def detail(self, incident_id: int) -> dict[str, Any]:
        inc = await self.store.get_incident(incident_id)
        if inc is None:
            raise InputError(404, "not_found", f"no incident {incident_id}")
        units = {u.id: u for u in await self.store.list_units()}
        history = (await self.store.incident_history([incident_id])).get(incident_id, ())
        view = incident_view(evolve(inc, history=history), utcnow(), units, history=True)
        details = []
        for alert in await self.store.incident_alerts(inc):
            author = await self.store.user_by_id(alert.author)
            details.append({**alert_staff(alert), "author_name": author.name if author else None})
        view["alert_details"] = details
        return view

    async def units(self) -> list[dict[str, Any]]:
        return [unit_view(u) for u in await self.store.list_units()]

    async def add_unit(self, name: str) -> dict[str, Any]:
        from dispatch.ports.store import DuplicateUnit

        try:
            return unit_view(await self.store.add_unit(name, utcnow()))
        except DuplicateUnit:
            raise InputError(409, "duplicate_unit", f"a unit named {name!r} exists", "name") from None

    async def set_unit_status(self, unit_id: int, status: str) -> dict[str, Any]:
        import dataclasses

        from dispatch.core.changes import Change, EventSpec, TriageState
        from dispatch.core.routing import OPS

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

        saved = await self._run([], [], [unit_id], decide)
        return unit_view(saved.units[unit_id])

    async def statistics(self, since: datetime, until: datetime) -> dict[str, Any]:
        alerts = [
            a for a in await self.store.list_alerts(AlertQuery(since=since, limit=1_000_000)) if a.created_at < until
        ]
        incidents = [
            i
            for i in await self.store.list_incidents(IncidentQuery(since=since, limit=1_000_000))
            if i.created_at < until
        ]
        return stats.compute(alerts, incidents, since, until)

    async def handover(self, sector: str | None) -> dict[str, Any]:
        now = utcnow()
        start = now - timedelta(hours=HANDOVER_HOURS)
        units = {u.id: u for u in await self.store.list_units()}
        open_ = await self.store.list_incidents(IncidentQuery(status="open", sector=sector, limit=1000))
        recent = await self.store.list_incidents(IncidentQuery(sector=sector, since=start, limit=1000))
        done = [i for i in recent if i.resolved_at is not None and i.resolved_at >= start]
        history = await self.store.incident_history(sorted({i.id for i in (*open_, *done)}))

        def row(i: Incident) -> dict[str, Any]:
            view = incident_view(evolve(i, history=history.get(i.id, ())), now, units, history=True)
            return {**view, "age_s": round((now - i.created_at).total_seconds())}

        return {
            "sector": sector,
            "since": start.isoformat(),
            "open": [row(i) for i in open_],
            "done": [row(i) for i in done],
        }

    # time -----------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._escalate_forever(), name="escalation")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass

    async def escalate_now(self) -> None:
        now = utcnow()
        due = [
            iid
            for iid, category, created, level in await self.store.overdue_incidents(now, self.policy.max_escalation)
            if incident_decisions.level_at(category, created, now, self.policy) > level
        ]
        if due:
            await self._run(due, [], [], incident_decisions.escalate(due, self.policy))

    async def _escalate_forever(self) -> None:
        while True:
            await asyncio.sleep(ESCALATION_EVERY_S)
            try:
                await self.escalate_now()
            except Exception:
                log.exception("escalation pass failed")
