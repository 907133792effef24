"""Which stream gets which message for each event type. Pure."""

from __future__ import annotations

from typing import Any

from dispatch.core.audience import resident_wants
from dispatch.core.codec import Payload, message
from dispatch.core.model import Home
from dispatch.core.views import alert_resident, broadcast_resident

# Event types the ops screens receive as they are.
OPS_TYPES = frozenset(
    {"alert.created", "alert.updated", "broadcast.sent", "incident.created", "incident.updated", "unit.updated"}
)

# Resident messages: event type -> message type. Who gets them is
# dispatch.core.audience (resident_wants, resident_audience).
RESIDENT_MESSAGES = {
    "alert.created": "alert.nearby",
    "broadcast.sent": "broadcast",
    "alert.status": "alert.status",
}


def resident_view(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    if event_type == "alert.created":
        return alert_resident(data)
    if event_type == "broadcast.sent":
        return broadcast_resident(data)
    if event_type == "alert.status":
        return {k: data[k] for k in ("id", "status", "updated_at")}
    raise ValueError(f"no resident view for {event_type}")


def stream_message(
    event_type: str, seq: int, data: dict[str, Any], home: Home | None, radius_m: float
) -> Payload | None:
    """The encoded message an event becomes on one stream (home None: /ws/ops),
    or None if that stream does not get it. Replay from the store uses this;
    the live path encodes once per audience instead (dispatch.live.hub)."""
    if home is None:
        return message(event_type, seq, data) if event_type in OPS_TYPES else None
    msg_type = RESIDENT_MESSAGES.get(event_type)
    if msg_type is None or not resident_wants(event_type, data, home, radius_m):
        return None
    return message(msg_type, seq, resident_view(event_type, data))
