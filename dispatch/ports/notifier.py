"""The notifier port: one channel's sender (e-mail over SMTP, SMS through
the HTTP gateway, Web Push), as the delivery workers (usecases.delivery)
see it. Implemented by dispatch.adapters.smtp_sender, sms_gateway and
web_push."""

from __future__ import annotations

from typing import Protocol

from dispatch.core.outbox import OutboxItem, Outcome


class Sender(Protocol):
    channel: str

    async def send(self, item: OutboxItem) -> Outcome:
        """Send one row. Never raises for a failed send: the Outcome says
        whether to retry. The same item sent twice must be recognisable as
        one message by the receiving side (item.ext_id)."""
        ...

    async def close(self) -> None: ...


class Subscriptions(Protocol):
    """What the Web Push sender needs of the store."""

    async def push_subscriptions(self, user_id: int) -> list[tuple[str, str, str]]: ...
    async def drop_push_subscription(self, endpoint: str) -> None: ...
