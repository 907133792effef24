"""Police messages to residents: who a target reaches, and sending one
(stored with its event, then published)."""

from __future__ import annotations

from dispatch.core.audience import within
from dispatch.core.model import Broadcast, NewBroadcast, User, utcnow
from dispatch.core.routing import broadcast_channels
from dispatch.core.validation import BroadcastInput
from dispatch.ports.publisher import Publisher
from dispatch.ports.store import Store
from geo import City


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
        return len(await self.store.resident_homes(list(target.sectors or ())))

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
            channels=tuple(broadcast_channels(body.sectors, circle, self.city)),
        )
        broadcast, event = await self.store.create_broadcast(new)
        await self.publisher.publish(event)
        return broadcast
