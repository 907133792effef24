"""The one way a triage use case writes: the store runs a pure decision in
one transaction (Store.triage), then every event it rendered is published.
Also where a reporter's stream channel is found, for alert.status."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from dispatch.core.audit import AuditEntry
from dispatch.core.changes import Decide, Saved
from dispatch.core.model import utcnow
from dispatch.core.routing import home_channel
from dispatch.ports.publisher import Publisher
from dispatch.ports.store import Store


class TriageWriter:
    def __init__(self, store: Store, publisher: Publisher) -> None:
        self.store = store
        self.publisher = publisher

    async def run(
        self,
        incidents: Sequence[int],
        alerts: Sequence[int],
        units: Sequence[int],
        decide: Decide,
        audit: Sequence[AuditEntry] = (),
    ) -> Saved:
        """`audit`: the entries of the action, written in its transaction."""
        saved, events = await self.store.triage(incidents, alerts, units, decide, utcnow(), audit)
        for event in events:
            await self.publisher.publish(event)
        return saved

    async def reporter_channels(self, authors: Iterable[int]) -> dict[int, str]:
        """Each reporter's resident stream channel (core.routing), by user id."""
        out = {}
        for uid in set(authors):
            user = await self.store.user_by_id(uid)
            home = user.home if user is not None else None
            if home is not None:
                out[uid] = home_channel(home.lat, home.lon, home.sector)
        return out

    async def authors_of(self, incident_ids: Iterable[int]) -> list[int]:
        authors: list[int] = []
        for iid in incident_ids:
            inc = await self.store.get_incident(iid)
            if inc is not None:
                authors.extend(inc.authors)
        return authors
