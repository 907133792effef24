"""Reporting by SMS (issue 19): a text to the town's number, forwarded by
the SMS gateway, becomes an alert through the same Alerts use case as one
posted from the app (grouped, scored, on /ws/ops, within the limits), and
the sender gets an answer by SMS through the outbox.

The words are dispatch/core/sms_keywords.py's; the place is found in the
city's street gazetteer (geo/streets.py), or is the home. Nothing of the
text, and not the number, is logged: an unknown number is logged by a
short keyed digest, which lets an operator see that one number keeps
trying without learning it."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from dispatch.core.joining import e164
from dispatch.core.model import User
from dispatch.core.sms_keywords import (
    Report,
    Stop,
    confirmation_text,
    help_text,
    read_sms,
    stopped_text,
)
from dispatch.core.validation import MAX_TEXT, AlertInput, InputError
from dispatch.usecases.alerts import Alerts
from dispatch.usecases.quotas import Quotas
from geo import City
from geo.streets import Gazetteer

log = logging.getLogger("dispatch.sms")

FindAccount = Callable[[str], Awaitable[User | None]]
SendSms = Callable[[User, str], Awaitable[None]]
StopSms = Callable[[User], Awaitable[None]]


@dataclass(frozen=True)
class Outcome:
    result: str  # "alert", "stopped" or "help"
    alert: int | None = None

    def as_dict(self) -> dict[str, object]:
        return {"result": self.result, "alert": self.alert} if self.alert is not None else {"result": self.result}


def number_digest(phone: str, key: str) -> str:
    """A short keyed digest of a number, for the logs (never the number)."""
    return hmac.new(key.encode(), phone.encode(), hashlib.sha256).hexdigest()[:12]


class SmsIntake:
    def __init__(
        self,
        city: City,
        streets: Gazetteer | None,
        alerts: Alerts,
        quotas: Quotas,
        accounts: FindAccount,
        send: SendSms,
        stop: StopSms,
        log_key: str,
    ) -> None:
        self.city = city
        self.streets = streets
        self.alerts = alerts
        self.quotas = quotas
        self.accounts = accounts
        self.send = send
        self.stop = stop
        self.log_key = log_key

    async def sender(self, raw_from: str) -> User:
        """The validated resident behind this number, or 403 unknown_number."""
        try:
            phone = e164(raw_from)
        except InputError:
            phone = raw_from.strip()
        user = await self.accounts(phone)
        if user is None or not user.validated or not user.is_resident or user.home is None:
            log.warning("inbound SMS refused: unknown number (digest %s)", number_digest(phone, self.log_key))
            raise InputError(403, "unknown_number", "this number belongs to no validated resident")
        return user

    def place(self, user: User, place: str) -> tuple[float, float, str]:
        """(lat, lon, how the answer names it): the street, else the home."""
        street = self.streets.locate(place) if self.streets is not None and place else None
        if street is not None and self.city.sector_of(street.lat, street.lon) is not None:
            return street.lat, street.lon, f"placé {street.name}"
        home = user.home
        assert home is not None  # sender() admits only residents with a home
        return home.lat, home.lon, "placé au domicile"

    async def receive(self, raw_from: str, text: str) -> Outcome:
        user = await self.sender(raw_from)
        intent = read_sms(text)
        if isinstance(intent, Stop):
            await self.stop(user)
            await self.send(user, stopped_text())
            log.info("SMS channel turned off by its owner (account %d)", user.id)
            return Outcome("stopped")
        if not isinstance(intent, Report):
            await self.send(user, help_text())
            return Outcome("help")
        await self.quotas.alert(user.id, None)  # 429 past limits.alerts_per_window
        lat, lon, placed = self.place(user, intent.place)
        words = f"SMS : {intent.place}" if intent.place else "SMS"
        alert, _ = await self.alerts.submit(user, AlertInput(intent.category, lat, lon, words[:MAX_TEXT], None))
        await self.send(user, confirmation_text(intent.category, alert.id, placed))
        log.info("alert %d reported by SMS (account %d)", alert.id, user.id)
        return Outcome("alert", alert.id)
