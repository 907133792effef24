"""Residents' alerts: submit one (locate, store durably with its incident,
then publish), and list what a caller may see of them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dispatch.core.audience import resident_wants
from dispatch.core.audit import identity_views
from dispatch.core.categories import initial_priority
from dispatch.core.model import OPS_VIEW_ROLES, Alert, AlertQuery, NewAlert, User, evolve, utcnow
from dispatch.core.out_texts import alert_texts
from dispatch.core.outbox import Nearby
from dispatch.core.routing import alert_channels
from dispatch.core.validation import AlertInput, InputError
from dispatch.core.views import alert_moderation, alert_resident, alert_staff
from dispatch.ports.publisher import Publisher
from dispatch.ports.store import Store
from geo import City, cell_of


class Alerts:
    def __init__(
        self,
        city: City,
        store: Store,
        publisher: Publisher,
        radius_m: float,
        cell_res: int,
        sms_number: str = "",
        sms_max_segments: int = 2,
        on_queued: Callable[[], None] = lambda: None,
    ) -> None:
        self.city = city
        self.store = store
        self.publisher = publisher
        self.radius_m = radius_m
        self.cell_res = cell_res
        self.sms_number = sms_number
        self.sms_max_segments = sms_max_segments
        self.on_queued = on_queued  # wakes this worker's delivery

    async def submit(self, author: User, body: AlertInput) -> tuple[Alert, bool]:
        """(the alert, whether it is new): a repeated client_id returns the first."""
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
            # its out-of-band messages (issue 19): the store finds their
            # audience as it writes the alert (core.audience.nearby_fanout)
            nearby=Nearby(
                self.radius_m,
                alert_texts(body.category, self.city.sector(sector).name, self.sms_number, self.sms_max_segments),
            ),
        )
        created = await self.store.create_alert_grouped(new)
        for event in created.events:  # alert.created, then what grouping changed
            await self.publisher.publish(event)
        if created.queued:
            self.on_queued()
        return created.alert, bool(created.events)

    async def visible_to(self, user: User, query: AlertQuery) -> list[dict[str, Any]]:
        """Operators see every alert as it is; moderators and admins every
        alert as a resident would see it, with `hidden`; a resident their own
        and those the resident stream would carry to their home
        (core.audience), never a hidden one."""
        if user.role in OPS_VIEW_ROLES:
            return [alert_staff(a) for a in await self.store.list_alerts(query)]
        if user.is_staff:
            return [alert_moderation(alert_staff(a)) for a in await self.store.list_alerts(query)]
        home = user.home
        out = []
        for alert in await self.store.list_alerts(evolve(query, visible_only=True)):
            staff = alert_staff(alert)
            if alert.author == user.id:
                out.append({**alert_resident(staff), "mine": True})
            elif home is not None and resident_wants("alert.created", staff, home, self.radius_m):
                out.append(alert_resident(staff))
        return out

    async def one(self, user: User, alert_id: int) -> dict[str, Any]:
        alert = await self.store.get_alert(alert_id)
        if alert is None:
            raise InputError(404, "not_found", "no such alert")
        visible = await self.visible_to(user, AlertQuery(ids=(alert.id,), limit=1))
        if not visible:
            raise InputError(404, "not_found", "no such alert")
        if user.role in OPS_VIEW_ROLES:  # an operator looks at who reported it
            await self.store.record_audit(identity_views(user.id, [alert.author]))
        return visible[0]
