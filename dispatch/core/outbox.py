"""The outbox's values (issue 19), pure: what one message to one recipient
on one channel is, how it is keyed, and when a failed send is tried again.

A message is named by (kind, ref_id): a broadcast, a nearby alert, a
moderation decision, an intake confirmation. `ext_id` is derived from the
message, the recipient and the channel only, never from an attempt, so the
SMS gateway sees the same `id`, and the mail relay the same Message-ID, on
every retry (the receiving side can drop a duplicate)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from dispatch.core.notify_settings import NotifySettings

# the SMS intake's answers: "reply" (a report's confirmation, ref: the
# alert), "help" and "stop" (ref: the minute). ext_id() keeps a kind's first
# letter only, so no two kinds may share one (tests/test_sms_keywords.py)
KINDS = ("broadcast", "alert", "decision", "reply", "help", "stop")
STATUSES = ("queued", "sent", "delivered", "failed")


def ext_id(kind: str, ref_id: int, user_id: int, channel: str) -> str:
    return f"{kind[0]}{ref_id}-{user_id}-{channel}"


@dataclass(frozen=True)
class Texts:
    """What every recipient of a message gets on each channel."""

    subject: str  # e-mail subject
    email: str  # e-mail plain text (the HTML part is rendered from it)
    sms: str  # already ends with the stop instruction, within the segments
    push: str


@dataclass(frozen=True)
class Fanout:
    """A message to many: the store writes one row per (recipient, channel)
    for those of `audience` whose settings opt in to it, in the transaction
    that stores the message itself (ref_id is only known there)."""

    kind: str
    audience: tuple[int, ...]
    level: str
    category: str | None  # a nearby alert's; None for a broadcast
    texts: Texts


@dataclass(frozen=True)
class Nearby:
    """A new alert's out-of-band messages before their audience is known:
    the store finds it in the transaction that writes the alert (candidates
    by category, sector and box, then core.audience.nearby_fanout), which
    costs no read of its own on the hot path."""

    radius_m: float
    texts: Texts


@dataclass(frozen=True)
class NewOutbox:
    kind: str
    ref_id: int
    user_id: int
    channel: str
    dest: str  # e-mail address, E.164 number; "" for push (the subscriptions at send time)
    subject: str
    body: str
    level: str

    @property
    def ext_id(self) -> str:
        return ext_id(self.kind, self.ref_id, self.user_id, self.channel)


@dataclass(frozen=True)
class OutboxItem:
    id: int
    kind: str
    ref_id: int
    user_id: int
    channel: str
    ext_id: str
    dest: str
    subject: str
    body: str
    level: str
    attempts: int
    created_at: datetime


@dataclass(frozen=True)
class Outcome:
    """How one send went: `sent`, or `retry` (a transient failure: 5xx,
    timeout, connection refused), or `failed` (permanent: the address or
    subscription is refused; never retried)."""

    status: str
    error: str | None = None
    gone: bool = False  # push: the subscription is gone (404/410): remove it


def backoff_s(attempts: int, base_s: float, cap_s: float, u: float) -> float:
    """Full jitter ("Exponential Backoff And Jitter", AWS Architecture Blog,
    2015): a uniform draw `u` in [0, 1) of min(cap, base * 2^attempts).
    Spreads the retries of many rows that failed together (a gateway outage)
    instead of sending them back in one burst."""
    exp = min(cap_s, base_s * math.pow(2, min(attempts, 60)))
    return u * exp


# (user id, e-mail, phone, settings, has a push subscription)
Recipient = tuple[int, str, str | None, NotifySettings, bool]


def plan(fanout: Fanout, ref_id: int, recipients: Sequence[Recipient]) -> list[NewOutbox]:
    """The outbox rows of a message: for each recipient, each out-of-band
    channel their settings open to it (by level for a broadcast, by category
    for a nearby alert) and that can reach them (a phone for SMS, a
    subscription for push)."""
    t = fanout.texts
    out: list[NewOutbox] = []
    for user_id, email, phone, settings, has_push in recipients:
        if fanout.category is None:
            channels = settings.for_broadcast(fanout.level)
        else:
            channels = settings.for_alert(fanout.category)
        for channel in channels:
            if channel == "email":
                dest, body = email, t.email
            elif channel == "sms" and phone:
                dest, body = phone, t.sms
            elif channel == "push" and has_push:
                dest, body = "", t.push
            else:
                continue
            out.append(NewOutbox(fanout.kind, ref_id, user_id, channel, dest, t.subject, body, fanout.level))
    return out


RECEIPT_FIELDS = {
    "email": ("queued", "sent", "failed"),
    "sms": ("queued", "sent", "delivered", "failed"),
    "push": ("queued", "sent", "failed"),
}


def receipts_view(counts: dict[str, dict[str, int]], app_delivered: int) -> dict[str, dict[str, int]]:
    """GET /api/broadcasts/{id}/receipts: each row counted once, in its
    status now (an SMS the gateway confirmed is `delivered`, no longer
    `sent`; a row being retried is `queued`)."""
    out: dict[str, dict[str, int]] = {"app": {"delivered": app_delivered}}
    for channel, fields in RECEIPT_FIELDS.items():
        got = counts.get(channel, {})
        out[channel] = {f: got.get(f, 0) for f in fields}
    return out
