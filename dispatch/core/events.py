"""Which stream gets which message for each event type. Pure."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from dispatch.core.audience import resident_wants
from dispatch.core.codec import Payload, message
from dispatch.core.model import Home
from dispatch.core.views import (
    alert_removed_resident,
    alert_resident,
    alert_status_resident,
    alert_text_resident,
    broadcast_resident,
)

# Event types the ops screens receive as they are.
OPS_TYPES = frozenset(
    {
        "alert.created",
        "alert.updated",
        "broadcast.sent",
        "broadcast.receipts",
        "incident.created",
        "incident.updated",
        "unit.updated",
    }
)

# Resident messages: event type -> message type. Who gets them is
# dispatch.core.audience (resident_wants, resident_audience).
RESIDENT_MESSAGES = {
    "alert.created": "alert.nearby",
    "broadcast.sent": "broadcast",
    "alert.status": "alert.status",
    "alert.removed": "alert.removed",
    # a moderator hid an alert's text, or showed it again: residents who have
    # the alert on screen must stop (or start) showing it at once
    "alert.text": "alert.text",
}

# Event types that name an alert by data["id"], whose replay depends on
# whether that alert is hidden now (stream_message).
ALERT_EVENTS = frozenset({"alert.created", "alert.removed", "alert.text"})


def resident_view(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    if event_type == "alert.created":
        return alert_resident(data)
    if event_type == "broadcast.sent":
        return broadcast_resident(data)
    if event_type == "alert.status":
        return alert_status_resident(data)
    if event_type == "alert.removed":
        return alert_removed_resident(data)
    if event_type == "alert.text":
        return alert_text_resident(data)
    raise ValueError(f"no resident view for {event_type}")


def stream_message(
    event_type: str,
    seq: int,
    data: dict[str, Any],
    home: Home | None,
    radius_m: float,
    hidden: Collection[int] = (),
) -> Payload | None:
    """The encoded message an event becomes on one stream (home None: /ws/ops),
    or None if that stream does not get it. Replay from the store uses this;
    the live path encodes once per audience instead (dispatch.live.hub).

    `hidden`: the alerts hidden now, among those the events name. A replay
    tells a resident what is true now: a hidden alert's alert.created is
    left out, and so is the alert.removed of one restored since."""
    if home is None:
        return message(event_type, seq, data) if event_type in OPS_TYPES else None
    msg_type = RESIDENT_MESSAGES.get(event_type)
    if msg_type is None or not resident_wants(event_type, data, home, radius_m):
        return None
    if event_type in ALERT_EVENTS and (data["id"] in hidden) != (event_type == "alert.removed"):
        return None
    return message(msg_type, seq, resident_view(event_type, data))
