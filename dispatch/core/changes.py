"""The shape of a triage write: pure functions decide, the store persists.

A triage operation (acknowledge, assign, merge, split, escalate, group a new
alert) is a pure function from the locked state to a Change. The store runs
it inside one write transaction, saves the Change, and appends the events its
`render` function derives from what was saved (new incidents get their ids
only then: a Change names them with negative temporary ids)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dispatch.core.model import Alert, Incident, Unit, iso


@dataclass(frozen=True)
class TriageState:
    incidents: Mapping[int, Incident]
    alerts: Mapping[int, Alert]
    units: Mapping[int, Unit]
    now: datetime


@dataclass(frozen=True)
class EventSpec:
    type: str
    data: dict[str, Any]
    channels: tuple[str, ...]


@dataclass(frozen=True)
class Saved:
    incidents: Mapping[int, Incident]  # by real id
    alerts: Mapping[int, Alert]
    units: Mapping[int, Unit]
    ids: Mapping[int, int]  # temporary id -> real id


def _no_events(saved: Saved) -> list[EventSpec]:
    return []


@dataclass(frozen=True)
class Change:
    incidents: tuple[Incident, ...] = ()  # id < 0: new
    alerts: tuple[Alert, ...] = ()
    units: tuple[Unit, ...] = ()
    render: Callable[[Saved], list[EventSpec]] = field(default=_no_events)


Decide = Callable[[TriageState], Change]


def history_entry(now: datetime, actor: int | None, action: str, **extra: Any) -> dict[str, Any]:
    """One line of an incident's history: who (None: the system), when, what."""
    return {"at": iso(now), "actor": actor, "action": action, **{k: v for k, v in extra.items() if v is not None}}
