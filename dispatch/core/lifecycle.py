"""Status lifecycle shared by alerts and incidents.

new -> acknowledged -> assigned -> in_progress -> resolved, with dismissed
(unfounded) and duplicate as exits. resolved, dismissed and duplicate can be
reached from any open state; nothing ever goes back to new, and a closed
item stays closed."""

from __future__ import annotations

from datetime import datetime

from dispatch.core.model import Incident

OPEN = ("new", "acknowledged", "assigned", "in_progress")
CLOSED = ("resolved", "dismissed", "duplicate")
STATUSES = OPEN + CLOSED

# What a resident is told of their own alert (issue 18: the resident page and
# the desk must name the same state): the open steps as they are -- a unit
# assigned reads "assigned" on both -- and every exit as "resolved", since
# "unfounded" or "duplicate" would read as a reproach to the one who called.
# The words for each are in GET /config ("resident_statuses").
RESIDENT_STATUS = {s: s for s in OPEN} | {s: "resolved" for s in CLOSED}
RESIDENT_STATUSES = (*OPEN, "resolved")

_FORWARD = {
    "new": ("acknowledged", "assigned", "in_progress"),
    "acknowledged": ("assigned", "in_progress"),
    "assigned": ("in_progress",),
    "in_progress": (),
}


class TransitionError(Exception):
    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"cannot go from {current} to {target}")
        self.current = current
        self.target = target


def allowed(current: str, target: str) -> bool:
    if current not in OPEN or target not in STATUSES or target == "new":
        return False
    if target in CLOSED:
        return True
    return target in _FORWARD.get(current, ())


def check(current: str, target: str) -> None:
    if not allowed(current, target):
        raise TransitionError(current, target)


def is_overdue(inc: Incident, now: datetime) -> bool:
    return inc.acknowledged_at is None and inc.status in OPEN and now >= inc.ack_due_at
