"""Retention and erasure, the pure part (issue 20): how long each kind of
personal data is kept (the retention.* keys), and what an alert or an
incident keeps once it is anonymous.

An anonymous alert keeps what the statistics count (category, sector, cell,
status, its day and times) and loses who wrote it, where exactly, and what
it said: its author, its exact point (moved to its H3 cell's centre, which
residents saw anyway), its text, its client_id and the operators' notes. An
incident keeps its cell and its number of witnesses, with its exact point
moved to its cell's centre and each erased author's id replaced by an
anonymous placeholder (a negative number, which names no account); once
purged, its history keeps its timeline but not the operators' notes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dispatch.core.views import cell_center

# the event types whose data is an alert's staff view, or names its author
ALERT_EVENTS = ("alert.created", "alert.updated", "alert.removed", "alert.status", "alert.text")
INCIDENT_EVENTS = ("incident.created", "incident.updated")


@dataclass(frozen=True)
class Retention:
    """Days each kind is kept (docs/privacy.md lists them with their defaults)."""

    alert_detail_days: float  # exact point and text of a closed alert, after it closed
    proof_days: float  # a proof of address, after the moderator's decision
    account_days: float  # a rejected account, after the rejection
    session_days: float  # a session's metadata, after it expired
    audit_days: float  # an audit entry
    # an out-of-band message's address and text, after it left (its count stays, for the receipts)
    outbox_days: float = 30

    def cutoffs(self, now: datetime) -> Cutoffs:
        def before(days: float) -> datetime:
            return now - timedelta(days=days)

        return Cutoffs(
            now=now,
            alert_detail=before(self.alert_detail_days),
            proof=before(self.proof_days),
            account=before(self.account_days),
            session=before(self.session_days),
            audit=before(self.audit_days),
            outbox=before(self.outbox_days),
        )


@dataclass(frozen=True)
class Cutoffs:
    """What was last touched before each instant has expired."""

    now: datetime
    alert_detail: datetime
    proof: datetime
    account: datetime
    session: datetime
    audit: datetime
    outbox: datetime


# what a purge counts, in the order it prints them
PURGE_KINDS = (
    "alerts_coarsened",
    "incidents_coarsened",
    "proofs",
    "accounts",
    "sessions",
    "audit",
    "messages_coarsened",
)


def to_utc(ts: datetime) -> datetime:
    """A naive instant (--now without an offset) is UTC."""
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def anonymous_point(cell: str) -> tuple[float, float]:
    c = cell_center(cell)
    return c["lat"], c["lon"]


def anonymous_alert_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """An event's alert data (staff view, or an alert.status) made anonymous."""
    out = dict(data)
    if "author" in out:
        out["author"] = None
    if "lat" in out and "cell" in out:
        out["lat"], out["lon"] = anonymous_point(out["cell"])
    for key, empty in (("text", ""), ("client_id", None), ("notes", [])):
        if key in out:
            out[key] = empty
    return out


def anonymous_incident_data(data: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(data)
    if "lat" in out and "cell" in out:
        out["lat"], out["lon"] = anonymous_point(out["cell"])
    return out


def without_note(entry: Mapping[str, Any]) -> dict[str, Any]:
    """An incident's history entry without the operator's free text (a
    purge keeps the timeline: who acted, when, what)."""
    return {k: v for k, v in entry.items() if k != "note"}


def without_authors(authors: Iterable[int], erased: Iterable[int] | None) -> list[int]:
    """Authors with the erased ones (all, when `erased` is None) replaced by
    distinct negative placeholders: the witness count stays, no id stays."""
    gone = None if erased is None else set(erased)
    out: list[int] = []
    low = min([0, *authors])
    for a in authors:
        if a > 0 and (gone is None or a in gone):
            low -= 1
            out.append(low)
        else:
            out.append(a)
    return out
