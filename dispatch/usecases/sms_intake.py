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
import time
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
from dispatch.ports.store import Store
from dispatch.usecases.alerts import Alerts
from dispatch.usecases.notifications import Notifications
from dispatch.usecases.quotas import Quotas
from geo import City
from geo.streets import Gazetteer

log = logging.getLogger("dispatch.sms")

# An answer that is not about one alert (help, stop) is named by the minute
# it was asked in: the outbox sends one message per (kind, ref, account), so
# a gateway that retries its POST gets one answer, and a resident texting
# nonsense in a loop one help a minute.
MINUTE_S = 60


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
        store: Store,
        alerts: Alerts,
        quotas: Quotas,
        notifications: Notifications,
        log_key: str,
    ) -> None:
        self.city = city
        self.streets = streets
        self.store = store
        self.alerts = alerts
        self.quotas = quotas
        self.notifications = notifications
        self.log_key = log_key

    async def sender(self, raw_from: str) -> User:
        """The validated resident behind this number, or 403 unknown_number."""
        try:
            phone: str | None = e164(raw_from)
        except InputError:
            # not a number: no account has it (phones are stored in E.164),
            # and whatever it holds (a NUL byte, which PostgreSQL text
            # refuses) goes no further than the digest
            phone = None
        user = await self.store.user_by_phone(phone) if phone is not None else None
        if user is None or not user.validated or not user.is_resident or user.home is None:
            log.warning(
                "inbound SMS refused: unknown number (digest %s)", number_digest(phone or raw_from, self.log_key)
            )
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
        minute = int(time.time() // MINUTE_S)
        if isinstance(intent, Stop):
            await self.notifications.stop_sms(user.id)
            await self.notifications.send_sms(user.id, stopped_text(), minute, kind="stop")
            log.info("SMS channel turned off by its owner (account %d)", user.id)
            return Outcome("stopped")
        if not isinstance(intent, Report):
            await self.notifications.send_sms(user.id, help_text(), minute, kind="help")
            return Outcome("help")
        await self.quotas.alert(user.id, None)  # 429 past limits.alerts_per_window
        lat, lon, placed = self.place(user, intent.place)
        words = f"SMS : {intent.place}" if intent.place else "SMS"
        alert, _ = await self.alerts.submit(user, AlertInput(intent.category, lat, lon, words[:MAX_TEXT], None))
        await self.notifications.send_sms(user.id, confirmation_text(intent.category, alert.id, placed), alert.id)
        log.info("alert %d reported by SMS (account %d)", alert.id, user.id)
        return Outcome("alert", alert.id)
