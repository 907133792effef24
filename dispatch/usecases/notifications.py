"""Out-of-band notifications (issue 19), what the HTTP edge and the other
use cases call: a resident's settings and push subscriptions, and queueing
single messages (an intake's confirmation SMS, a moderation decision's
e-mail) in the outbox. Broadcasts and nearby alerts queue theirs in the
transaction that stores them (usecases.broadcasts: Fanout)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dispatch.core.model import User, utcnow
from dispatch.core.notify_settings import DEFAULT, NotifySettings, notify_input, settings_view, subscription_input
from dispatch.core.out_texts import decision_texts, sms_text
from dispatch.core.outbox import NewOutbox
from dispatch.ports.store import Store


class Notifications:
    def __init__(
        self,
        store: Store,
        vapid_public_key: str,
        sms_number: str,
        sms_max_segments: int,
        on_queued: Callable[[], None] = lambda: None,
    ) -> None:
        self.on_queued = on_queued  # wakes this worker's delivery
        self.store = store
        self.vapid_public_key = vapid_public_key
        self.sms_number = sms_number
        self.sms_max_segments = sms_max_segments

    async def settings_of(self, user_id: int) -> NotifySettings:
        return await self.store.notify_settings(user_id) or DEFAULT

    async def view(self, user: User) -> dict[str, Any]:
        fresh = await self.store.user_by_id(user.id)
        return settings_view(await self.settings_of(user.id), fresh.phone if fresh else user.phone)

    async def update(self, user: User, data: dict[str, Any]) -> dict[str, Any]:
        fresh = await self.store.user_by_id(user.id)
        parsed = notify_input(data, fresh.phone if fresh else user.phone)
        await self.store.put_notify_settings(user.id, parsed.settings, parsed.phone, parsed.phone_given, utcnow())
        return settings_view(parsed.settings, parsed.phone)

    async def subscribe(self, user: User, data: dict[str, Any]) -> int:
        endpoint, p256dh, auth = subscription_input(data)
        return await self.store.add_push_subscription(user.id, endpoint, p256dh, auth, utcnow())

    async def send_sms(self, user_id: int, text: str, ref_id: int, kind: str = "reply") -> bool:
        """Queue one SMS to the account's phone, whatever its channels (it is
        an answer to an SMS the account sent): `text` gets the stop
        instruction and is cut to notify.sms_max_segments. (kind, ref_id)
        names the message (for the intake: "reply" and the alert's id), so
        queueing it twice sends it once. False when the account has no phone."""
        user = await self.store.user_by_id(user_id)
        if user is None or not user.phone:
            return False
        body = sms_text(text, self.sms_number, self.sms_max_segments)
        await self.store.enqueue([NewOutbox(kind, ref_id, user_id, "sms", user.phone, "", body, "info")], utcnow())
        self.on_queued()
        return True

    async def stop_sms(self, user_id: int) -> None:
        """A resident texted STOP: SMS leaves their channels."""
        current = await self.settings_of(user_id)
        channels = tuple(c for c in current.channels if c != "sms")
        settings = NotifySettings(channels, current.levels, current.categories)
        await self.store.put_notify_settings(user_id, settings, None, False, utcnow())

    async def decision_email(self, user: User, validated: bool, reason: str | None) -> None:
        """A moderator's decision on an application, by e-mail (issue 19, 5):
        always sent, whatever the settings (the account has none yet)."""
        t = decision_texts(validated, reason)
        item = NewOutbox("decision", user.id, user.id, "email", user.email, t.subject, t.email, "info")
        await self.store.enqueue([item], utcnow())
        self.on_queued()
