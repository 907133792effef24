"""dispatch/core/model.py: evolve, the fast dataclasses.replace of the hot path."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from dispatch.core.model import Alert, Incident, evolve

NOW = datetime(2026, 7, 14, 12, 0, tzinfo=UTC)
ALERT = Alert(
    id=1,
    author=2,
    category="theft",
    lat=43.18,
    lon=3.0,
    text="vol",
    client_id=None,
    sector="centre",
    cell="891f8d7a49bffff",
    status="new",
    priority=3.0,
    assignee=None,
    created_at=NOW,
    updated_at=NOW,
    seq=7,
)
INCIDENT = Incident(
    id=-1,
    category="theft",
    sector="centre",
    cell="891f8d7a49bffff",
    lat=43.18,
    lon=3.0,
    status="new",
    priority=3.0,
    pinned=False,
    unit_id=None,
    alerts=(1,),
    authors=(2,),
    vulnerable=False,
    escalation=0,
    created_at=NOW,
    updated_at=NOW,
    ack_due_at=NOW,
    history=({"action": "opened"},),
)


@pytest.mark.parametrize(
    "obj, changes",
    [
        (ALERT, {"incident": 5}),
        (ALERT, {"status": "resolved", "notes": ({"n": 1},), "updated_at": NOW.replace(hour=13)}),
        (INCIDENT, {"id": 42}),
        (INCIDENT, {"alerts": (1, 3), "authors": (2, 9), "priority": 4.5, "history": ()}),
        (INCIDENT, {}),
    ],
)
def test_evolve_is_replace(obj: object, changes: dict[str, object]) -> None:
    before = dataclasses.asdict(obj)  # type: ignore[call-overload]
    new = evolve(obj, **changes)
    assert new == dataclasses.replace(obj, **changes)  # type: ignore[type-var]
    assert type(new) is type(obj) and new is not obj
    assert dataclasses.asdict(obj) == before  # type: ignore[call-overload]
    with pytest.raises(dataclasses.FrozenInstanceError):
        new.id = 0  # type: ignore[attr-defined]


def test_evolve_rejects_unknown_fields() -> None:
    with pytest.raises(TypeError, match="no field 'colour'"):
        evolve(ALERT, colour="red")
