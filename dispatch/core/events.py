"""Which stream gets which message for each event type. Pure."""

from __future__ import annotations

from typing import Any

from dispatch.core.views import alert_resident, broadcast_resident

# Event types the ops screens receive as they are.
OPS_TYPES = frozenset(
    {"alert.created", "alert.updated", "broadcast.sent", "incident.created", "incident.updated", "unit.updated"}
)

# Resident messages: event type -> (message type, view). The audience rule is
# dispatch.core.audience.resident_wants / HomeIndex.
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
