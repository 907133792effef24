"""Use cases: what happens when a resident reports, an operator acts, a
broadcast is sent. Validation and geography are pure (core/, geo/); this
module orders the steps: locate, store durably, then publish."""

from __future__ import annotations

from typing import Any

from dispatch.core.audience import Home, resident_wants, within
from dispatch.core.categories import initial_priority
from dispatch.core.model import (
    Alert,
    AlertQuery,
    Broadcast,
    NewAlert,
    NewBroadcast,
    User,
    utcnow,
)
from dispatch.core.routing import alert_channels, broadcast_channels
from dispatch.core.validation import AlertInput, AlertPatch, BroadcastInput, InputError
from dispatch.core.views import alert_resident, alert_staff
from dispatch.live.sequencer import Sequencer
from dispatch.ports.store import Store
from dispatch.usecases.incidents import Triage
from geo import City, cell_of


class Dispatch:
    def __init__(
        self, city: City, store: Store, sequencer: Sequencer, radius_m: float, cell_res: int, triage: Triage
    ) -> None:
        self.triage = triage
        self.city = city
        self.store = store
        self.sequencer = sequencer
        self.radius_m = radius_m
        self.cell_res = cell_res

    def home_of(self, user: User) -> Home | None:
        if user.home_lat is None or user.home_lon is None:
            return None
        return Home(user.id, user.home_lat, user.home_lon, self.city.sector_of(user.home_lat, user.home_lon))

    # alerts ---------------------------------------------------------------
    async def submit_alert(self, author: User, body: AlertInput) -> tuple[Alert, bool]:
        sector = self.city.sector_of(body.lat, body.lon)
        if sector is None:
            raise InputError(422, "outside_city", "this point is in no sector of the city", "lat")
        new = NewAlert(
            author=author.id,
            category=body.category,
            lat=body.lat,
            lon=body.lon,
            text=body.text,
            client_id=body.client_id,
            sector=sector,
            cell=cell_of(body.lat, body.lon, self.cell_res),
            priority=initial_priority(body.category),
            created_at=utcnow(),
            channels=tuple(alert_channels(body.lat, body.lon, sector, self.radius_m, self.city)),
        )
        alert, events = await self.store.create_alert_grouped(new)
        for event in events:  # alert.created, then what grouping changed
            await self.sequencer.publish(event)
        return alert, bool(events)

    async def update_alert(self, actor: User, alert_id: int, patch: AlertPatch) -> dict[str, Any]:
        return await self.triage.patch_alert(actor, alert_id, patch)

    async def alerts_for(self, user: User, query: AlertQuery) -> list[dict[str, Any]]:
        if user.is_staff:
            return [alert_staff(a) for a in await self.store.list_alerts(query)]
        home = self.home_of(user)
        out = []
        for alert in await self.store.list_alerts(query):
            staff = alert_staff(alert)
            if alert.author == user.id:
                out.append({**alert_resident(staff), "mine": True})
            elif home is not None and resident_wants("alert.created", staff, home, self.radius_m):
                out.append(alert_resident(staff))
        return out

    # broadcasts -----------------------------------------------------------
    async def recipients(self, target: BroadcastInput) -> int:
        if target.circle is not None:
            c = target.circle
            homes = await self.store.resident_homes(None)
            return sum(1 for _, lat, lon, _s in homes if within(lat, lon, c.lat, c.lon, c.radius_m))
        return len(await self.store.resident_homes(list(target.sectors or ())))

    async def broadcast(self, author: User, body: BroadcastInput) -> Broadcast:
        new = NewBroadcast(
            author=author.id,
            sectors=body.sectors,
            circle=body.circle,
            text=body.text,
            level=body.level,
            recipients=await self.recipients(body),
            created_at=utcnow(),
            channels=tuple(
                broadcast_channels(body.sectors, None if body.circle is None else vars(body.circle), self.city)
            ),
        )
        b, event = await self.store.create_broadcast(new)
        await self.sequencer.publish(event)
        return b
