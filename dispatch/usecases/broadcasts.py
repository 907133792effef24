"""Police messages to residents: who a target reaches, and sending one
(stored with its event, then published)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from dispatch.core.audience import broadcast_reaches, within
from dispatch.core.model import OPS_VIEW_ROLES, Broadcast, NewBroadcast, User, utcnow
from dispatch.core.routing import broadcast_channels
from dispatch.core.validation import BroadcastInput
from dispatch.core.views import broadcast_resident, broadcast_view
from dispatch.core.zones import in_zone
from dispatch.ports.publisher import Publisher
from dispatch.ports.store import Store
from geo import City

# A month of a town's police messages is tens; the cap only bounds a flood.
HISTORY_MAX = 1000


class Broadcasts:
    def __init__(self, city: City, store: Store, publisher: Publisher) -> None:
        self.city = city
        self.store = store
        self.publisher = publisher

    async def recipients(self, target: BroadcastInput) -> int:
        """The validated residents whose home the target reaches."""
        if target.circle is not None:
            c = target.circle
            homes = await self.store.resident_homes(None)
            return sum(1 for _, lat, lon, _s in homes if within(lat, lon, c.lat, c.lon, c.radius_m))
        if target.polygon is not None:
            zone = target.polygon
            homes = await self.store.resident_homes(None)
            return sum(1 for _, lat, lon, _s in homes if in_zone(lat, lon, zone))
        return len(await self.store.resident_homes(list(target.sectors or ())))

    async def history(self, user: User, since: datetime | None, days: float) -> list[dict[str, Any]]:
        """GET /api/broadcasts: newest first, at most `days` back (`since`
        narrows further). A resident gets those whose target holds their
        home now (the rule of the live stream, core/audience.py), in the
        resident view; staff get all, with target, recipients and author."""
        floor = utcnow() - timedelta(days=days)
        rows = await self.store.list_broadcasts(max(floor, since) if since else floor, HISTORY_MAX)
        views = [broadcast_view(b) for b in rows]
        if user.role in OPS_VIEW_ROLES:
            return views
        home = user.home
        if home is None:
            return []
        return [broadcast_resident(v) for v in views if broadcast_reaches(v, home.lat, home.lon, home.sector)]

    async def send(self, author: User, body: BroadcastInput) -> Broadcast:
        circle = None if body.circle is None else vars(body.circle)
        new = NewBroadcast(
            author=author.id,
            sectors=body.sectors,
            circle=body.circle,
            text=body.text,
            level=body.level,
            recipients=await self.recipients(body),
            created_at=utcnow(),
            channels=tuple(broadcast_channels(body.sectors, circle, self.city, body.polygon)),
            polygon=body.polygon,
        )
        broadcast, event = await self.store.create_broadcast(new)
        await self.publisher.publish(event)
        return broadcast
