"""dispatch/core/incidents.group, the live form of grouping that the stores
run inside create_alert's transaction, against the batch form
(core.grouping.group_ids): alerts arriving in batches, each batch grouped against
the open incidents the store would hand over (anchored in the batch's
neighbourhood, created within the window), give the batch form's incidents.
Pure: no event loop, no store."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st
from test_grouping import PROPS, alert_sets

from dispatch.core.grouping import AlertFacts, group_ids
from dispatch.core.incident_grouping import attach_new_alerts as group_live
from dispatch.core.incident_grouping import candidate_group
from dispatch.core.model import Alert, Incident
from dispatch.core.triage_policy import build_policy

POLICY, _ = build_policy({})


def _alert(f: AlertFacts) -> Alert:
    at = datetime.fromtimestamp(f.created_at, UTC)
    return Alert(
        id=f.id,
        author=f.author,
        category=f.category,
        lat=f.lat,
        lon=f.lon,
        text="",
        client_id=None,
        sector="centre",
        cell=f.cell,
        status="new",
        priority=1.0,
        assignee=None,
        created_at=at,
        updated_at=at,
        seq=f.id,
    )


def _live(facts: list[AlertFacts], rnd: random.Random) -> list[frozenset[int]]:
    """What the store does: batches in arrival (created_at, id) order, each
    grouped against the candidates its SQL query returns, then saved."""
    alerts = sorted((_alert(f) for f in facts), key=lambda a: (a.created_at, a.id))
    stored: dict[int, Alert] = {}
    incidents: dict[int, Incident] = {}
    next_id = 1
    i = 0
    while i < len(alerts):
        batch = alerts[i : i + rnd.randint(1, 6)]
        i += len(batch)
        cells = {c for a in batch for c in POLICY.neighbourhood(a.lat, a.lon)}
        since = min(a.created_at for a in batch).timestamp() - POLICY.window_s
        found = [inc for inc in incidents.values() if inc.cell in cells and inc.created_at.timestamp() >= since]
        rnd.shuffle(found)
        members = {a: AlertFacts.from_alert(stored[a]) for inc in found for a in inc.alerts}
        groups = {inc.id: g for inc in found if (g := candidate_group(inc, members)) is not None}
        change = group_live(batch, found, groups, POLICY, batch[-1].created_at)
        ids: dict[int, int] = {}
        for inc in change.incidents:
            if inc.id < 0:
                ids[inc.id] = next_id
                next_id += 1
            real = ids.get(inc.id, inc.id)
            incidents[real] = dataclasses.replace(inc, id=real)
        for a in change.alerts:
            assert a.incident is not None
            stored[a.id] = dataclasses.replace(a, incident=ids.get(a.incident, a.incident))
    assert sorted(stored) == sorted(f.id for f in facts)
    return sorted((frozenset(inc.alerts) for inc in incidents.values()), key=sorted)


@PROPS
@given(alert_sets(max_size=40), st.randoms(use_true_random=False))
def test_live_grouping_in_batches_gives_the_batch_incidents(facts: list[AlertFacts], rnd: random.Random) -> None:
    # stored alerts carry datetimes (microseconds): compare on the times the store keeps
    facts = [AlertFacts.from_alert(_alert(f)) for f in facts]
    assert _live(facts, rnd) == sorted(group_ids(facts), key=sorted)
