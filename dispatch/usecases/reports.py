"""What the desk reads back: statistics over a window (core.stats) and the
shift hand-over of a sector."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from dispatch.core import stats
from dispatch.core.model import AlertQuery, Incident, IncidentQuery, evolve, utcnow
from dispatch.core.views import incident_view
from dispatch.ports.store import Store
from dispatch.usecases.incidents import actor_names

# A hand-over covers what was done during the last shift and a half.
HANDOVER_HOURS = 12


class Reports:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def statistics(self, since: datetime, until: datetime) -> dict[str, Any]:
        listed = await self.store.list_alerts(AlertQuery(since=since, limit=1_000_000))
        alerts = [a for a in listed if a.created_at < until]
        opened = await self.store.list_incidents(IncidentQuery(since=since, limit=1_000_000))
        incidents = [i for i in opened if i.created_at < until]
        return stats.compute(alerts, incidents, since, until)

    async def handover(self, sector: str | None) -> dict[str, Any]:
        now = utcnow()
        start = now - timedelta(hours=HANDOVER_HOURS)
        units = {u.id: u for u in await self.store.list_units()}
        open_ = await self.store.list_incidents(IncidentQuery(status="open", sector=sector, limit=1000))
        recent = await self.store.list_incidents(IncidentQuery(sector=sector, since=start, limit=1000))
        done = [i for i in recent if i.resolved_at is not None and i.resolved_at >= start]
        history = await self.store.incident_history(sorted({i.id for i in (*open_, *done)}))
        names = await actor_names(self.store, history.values())

        def row(i: Incident) -> dict[str, Any]:
            view = incident_view(evolve(i, history=history.get(i.id, ())), now, units, history=True, names=names)
            return {**view, "age_s": round((now - i.created_at).total_seconds())}

        return {
            "sector": sector,
            "since": start.isoformat(),
            "open": [row(i) for i in open_],
            "done": [row(i) for i in done],
        }
