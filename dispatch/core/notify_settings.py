"""A resident's notification settings (issue 19): which channels carry
broadcasts of which levels, and which categories of nearby alerts they want
outside the app. Pure: parsing GET/PUT /api/me/notifications bodies and the
decision of which out-of-band channels one message takes.

Defaults (an account that never saved its settings): the app only. Nobody
gets an e-mail, an SMS or a push before opting in; once they list a channel,
it carries broadcasts of every level unless they narrow `levels`, and no
nearby alert unless they list `categories`."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from dispatch.core.categories import CATEGORIES
from dispatch.core.joining import e164
from dispatch.core.model import BROADCAST_LEVELS
from dispatch.core.validation import InputError

CHANNELS = ("app", "email", "sms", "push")
# the channels the outbox carries; "app" is the open page's socket
OUT_OF_BAND = ("email", "sms", "push")
_FIELDS = frozenset({"channels", "phone", "levels", "categories"})


@dataclass(frozen=True)
class NotifySettings:
    channels: tuple[str, ...]
    levels: tuple[str, ...]
    categories: tuple[str, ...]

    def for_broadcast(self, level: str) -> tuple[str, ...]:
        """The out-of-band channels a broadcast of `level` takes."""
        if level not in self.levels:
            return ()
        return tuple(c for c in self.channels if c in OUT_OF_BAND)

    def for_alert(self, category: str) -> tuple[str, ...]:
        """The out-of-band channels a nearby alert of `category` takes."""
        if category not in self.categories:
            return ()
        return tuple(c for c in self.channels if c in OUT_OF_BAND)


DEFAULT = NotifySettings(("app",), tuple(BROADCAST_LEVELS), ())


@dataclass(frozen=True)
class NotifyInput:
    settings: NotifySettings
    phone: str | None  # E.164, when the body gives one
    phone_given: bool


def _choices(data: dict[str, Any], key: str, allowed: tuple[str, ...], code: str) -> tuple[str, ...]:
    value = data[key]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(422, "invalid_type", f"{key} must be a list of strings", key)
    for v in value:
        if v not in allowed:
            raise InputError(422, code, f"unknown {key[:-1]} {v!r}", key)
    # kept in the canonical order, each once
    return tuple(a for a in allowed if a in value)


def notify_input(data: dict[str, Any], account_phone: str | None) -> NotifyInput:
    """PUT /api/me/notifications: `channels` required; `levels` absent means
    every level, `categories` absent means none; `phone` absent keeps the
    account's, null removes it. SMS needs a phone (422 missing_field)."""
    for key in data:
        if key not in _FIELDS:
            raise InputError(422, "unknown_field", f"unknown field {key!r}", key)
    if data.get("channels") is None:
        raise InputError(422, "missing_field", "channels is required", "channels")
    channels = _choices(data, "channels", CHANNELS, "unknown_channel")
    levels = _choices(data, "levels", tuple(BROADCAST_LEVELS), "unknown_level") if "levels" in data else DEFAULT.levels
    categories = _choices(data, "categories", tuple(CATEGORIES), "unknown_category") if "categories" in data else ()
    phone, given = account_phone, "phone" in data
    if given:
        raw = data["phone"]
        if raw is not None and not isinstance(raw, str):
            raise InputError(422, "invalid_type", "phone must be a string", "phone")
        phone = None if raw is None or not raw.strip() else e164(raw)
    if "sms" in channels and phone is None:
        raise InputError(422, "missing_field", "SMS needs a phone number", "phone")
    return NotifyInput(NotifySettings(channels, levels, categories), phone, given)


def settings_view(settings: NotifySettings, phone: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "channels": list(settings.channels),
        "levels": list(settings.levels),
        "categories": list(settings.categories),
    }
    if phone is not None:
        out["phone"] = phone
    return out


def _b64url_bytes(value: Any, key: str) -> bytes:
    if not isinstance(value, str) or not value or len(value) > 200:
        raise InputError(422, "invalid_type", f"{key} must be a base64url string", key)
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except ValueError:
        raise InputError(422, "invalid_type", f"{key} must be a base64url string", key) from None


def subscription_input(data: dict[str, Any]) -> tuple[str, str, str]:
    """A browser PushSubscription as JSON -> (endpoint, p256dh, auth). The
    keys are checked for what RFC 8291 needs: p256dh an uncompressed P-256
    point (65 bytes, 0x04 first), auth a 16-byte secret."""
    for key in data:
        if key not in ("endpoint", "keys", "expirationTime"):
            raise InputError(422, "unknown_field", f"unknown field {key!r}", key)
    endpoint = data.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")) or len(endpoint) > 2048:
        raise InputError(422, "invalid_type", "endpoint must be an http(s) URL", "endpoint")
    keys = data.get("keys")
    if not isinstance(keys, dict) or set(keys) - {"p256dh", "auth"}:
        raise InputError(422, "invalid_type", "keys must be {p256dh, auth}", "keys")
    p256dh = _b64url_bytes(keys.get("p256dh"), "p256dh")
    if len(p256dh) != 65 or p256dh[0] != 4:
        raise InputError(422, "invalid_type", "p256dh must be an uncompressed P-256 public key", "p256dh")
    if len(_b64url_bytes(keys.get("auth"), "auth")) != 16:
        raise InputError(422, "invalid_type", "auth must be a 16-byte secret", "auth")
    return endpoint, keys["p256dh"], keys["auth"]


def sms_status_input(data: dict[str, Any]) -> tuple[str, str]:
    """POST /api/sms/status: {"id", "status": "delivered" | "failed"}."""
    for key in data:
        if key not in ("id", "status"):
            raise InputError(422, "unknown_field", f"unknown field {key!r}", key)
    sms_id, status = data.get("id"), data.get("status")
    if not isinstance(sms_id, str) or not 0 < len(sms_id) <= 200:
        raise InputError(422, "missing_field" if sms_id is None else "invalid_type", "id must be a string", "id")
    if status not in ("delivered", "failed"):
        raise InputError(422, "unknown_status", "status must be delivered or failed", "status")
    return sms_id, status
