"""Police messages to residents: who a target reaches, and sending one
(stored with its event, then published)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from dispatch.core.audience import broadcast_reaches, within
from dispatch.core.model import OPS_VIEW_ROLES, Broadcast, NewBroadcast, User, utcnow
from dispatch.core.out_texts import broadcast_texts
from dispatch.core.outbox import Fanout, Texts
from dispatch.core.routing import broadcast_channels
from dispatch.core.sms_text import segments
from dispatch.core.validation import BroadcastInput
from dispatch.core.views import broadcast_resident, broadcast_view
from dispatch.core.zones import in_zone
from dispatch.ports.publisher import Publisher
from dispatch.ports.store import Store
from geo import City

# A month of a town's police messages is tens; the cap only bounds a flood.
HISTORY_MAX = 1000


class Broadcasts:
    def __init__(
        self,
        city: City,
        store: Store,
        publisher: Publisher,
        sms_number: str = "",
        sms_max_segments: int = 2,
        on_queued: Callable[[], None] = lambda: None,
    ) -> None:
        self.city = city
        self.store = store
        self.publisher = publisher
        self.sms_number = sms_number
        self.sms_max_segments = sms_max_segments
        self.on_queued = on_queued  # wakes this worker's delivery

    async def audience(self, target: BroadcastInput) -> list[int]:
        """The ids of the validated residents whose home the target reaches:
        the one recipient rule, for the count, the preview and the outbox."""
        if target.circle is not None:
            c = target.circle
            homes = await self.store.resident_homes(None)
            return [uid for uid, lat, lon, _s in homes if within(lat, lon, c.lat, c.lon, c.radius_m)]
        if target.polygon is not None:
            zone = target.polygon
            homes = await self.store.resident_homes(None)
            return [uid for uid, lat, lon, _s in homes if in_zone(lat, lon, zone)]
        return [uid for uid, *_ in await self.store.resident_homes(list(target.sectors or ()))]

    async def recipients(self, target: BroadcastInput) -> int:
        """How many validated residents the target reaches."""
        return len(await self.audience(target))

    def texts(self, body: BroadcastInput) -> Texts:
        return broadcast_texts(body.text, body.level, self.sms_number, self.sms_max_segments)

    async def preview(self, target: BroadcastInput) -> dict[str, Any]:
        """The recipients, and those of them the SMS would reach with its
        segments (GSM-7 or UCS-2, as the outbox will send it)."""
        audience = await self.audience(target)
        sms = await self.store.sms_recipients(audience, target.level)
        return {"recipients": len(audience), "sms": {"recipients": sms, "segments": segments(self.texts(target).sms)}}

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
        audience = await self.audience(body)
        new = NewBroadcast(
            author=author.id,
            sectors=body.sectors,
            circle=body.circle,
            text=body.text,
            level=body.level,
            recipients=len(audience),
            created_at=utcnow(),
            channels=tuple(broadcast_channels(body.sectors, circle, self.city, body.polygon)),
            polygon=body.polygon,
            fanout=Fanout("broadcast", tuple(audience), body.level, None, self.texts(body)),
        )
        broadcast, event = await self.store.create_broadcast(new)
        await self.publisher.publish(event)
        self.on_queued()
        return broadcast
