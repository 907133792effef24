"""Grouping new alerts into incidents inside create_alert_grouped's
transaction, for both stores: the candidate incidents, the facts of their
members, the write (triage_sql.save). The decisions are the grouping port's
(dispatch.ports.grouping.Grouping, implemented by
dispatch.core.incident_grouping.PolicyGrouping)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from datetime import datetime, timedelta

from dispatch.adapters.dialect import Sql
from dispatch.adapters.store_common import to_utc
from dispatch.adapters.triage_sql import INCIDENT_COLUMNS, incident_from_row, save, units_by_id
from dispatch.adapters.tx import Tx
from dispatch.core.changes import Change, Saved
from dispatch.core.grouping import AlertFacts, Group
from dispatch.core.incident_grouping import candidate_group
from dispatch.core.lifecycle import OPEN
from dispatch.core.model import Alert, Incident
from dispatch.ports.grouping import Grouping

CANDIDATES = Sql(
    lambda d: (
        f"SELECT {INCIDENT_COLUMNS} FROM incidents WHERE {d.in_texts('cell')} AND created_at >= ?"
        f" AND {d.in_texts('status')} ORDER BY created_at, id{d.lock_rows}"
    )
)
FACTS = Sql(lambda d: f"SELECT id, author, category, lat, lon, created_at FROM alerts WHERE {d.in_ints('id')}")


async def candidates(tx: Tx, cells: Sequence[str], since: datetime) -> list[Incident]:
    """Open incidents anchored in `cells` since `since`, locked."""
    if not cells:
        return []
    d = tx.dialect
    rows = await tx.rows(CANDIDATES.on(d), d.list_param(cells), d.ts_param(since), d.list_param(OPEN))
    return [incident_from_row(r, d) for r in rows]


# slack for the clocks of several workers (NTP keeps them within
# milliseconds; a batch's `now` and its alerts' created_at come from one)
SKEW_S = 300.0


class FactsCache:
    """The grouping facts (core.grouping.AlertFacts) of stored alerts, by id,
    for one store. They derive only from what an alert never changes after
    it is written (author, category, position, creation time), so entries
    stay true whichever worker changes the alert later. Grouping a batch needs
    the facts of every member of its candidate incidents: reading them back
    as whole rows cost more than all the rest of the batch's transaction."""

    MAX = 200_000
    # a sweep of entries past their age (one pass over the dict, ~20 ms at
    # 200,000) runs once SWEEP_EVERY were added and SWEEP_GAP_S passed since
    # the last: at 5 alerts/s every 3.4 min, at 2,700/s once a minute
    SWEEP_EVERY = 1024
    SWEEP_GAP_S = 60.0

    def __init__(self) -> None:
        self._facts: dict[int, AlertFacts] = {}
        self._added = 0
        self._swept = time.monotonic()

    def __len__(self) -> int:
        return len(self._facts)

    def sweep_due(self) -> bool:
        now = time.monotonic()
        if self._added < self.SWEEP_EVERY or now - self._swept < self.SWEEP_GAP_S:
            return False
        self._added, self._swept = 0, now
        return True

    def forget_before(self, cutoff: float) -> None:
        """Drop the facts of alerts created before `cutoff` (epoch s): no
        candidate incident can need them (see GroupCache.forget_before)."""
        self._facts = {k: f for k, f in self._facts.items() if f.created_at >= cutoff}

    def add(self, alerts: Sequence[Alert]) -> None:
        if len(self._facts) + len(alerts) > self.MAX:
            self._facts.clear()
        for a in alerts:
            self._facts[a.id] = AlertFacts.from_alert(a)
        self._added += len(alerts)

    async def get(self, tx: Tx, ids: Sequence[int]) -> dict[int, AlertFacts]:
        out: dict[int, AlertFacts] = {}
        missing: list[int] = []
        for i in ids:
            hit = self._facts.get(i)
            if hit is None:
                missing.append(i)
            else:
                out[i] = hit
        if missing:
            d = tx.dialect
            for r in await tx.rows(FACTS.on(d), d.list_param(missing)):
                out[r["id"]] = AlertFacts.of(
                    r["id"], r["author"], r["category"], r["lat"], r["lon"], d.ts_column(r["created_at"])
                )
            if len(self._facts) + len(missing) > self.MAX:
                self._facts.clear()
            self._facts.update((i, out[i]) for i in missing if i in out)
        return out


class GroupCache:
    """Candidate incidents as grouping sees them (core.grouping.Group), by
    incident id, with the member list each was built from. An open incident
    is a candidate batch after batch while it gathers reports; rebuilding it
    from its members' facts each time cost as much as the rest of grouping.
    An entry is used only while the incident lists exactly its members, or
    those followed by more (extended then): any other change, by an operator
    or another worker, rebuilds it."""

    MAX = 20_000

    def __init__(self, facts: FactsCache) -> None:
        self.facts = facts
        self._groups: dict[int, tuple[tuple[int, ...], Group]] = {}

    def __len__(self) -> int:
        return len(self._groups)

    def forget_before(self, cutoff: float) -> None:
        """Age bound (docs/bounds.md): a group whose first alert is older than
        the grouping window takes no new alert (core.grouping.expired), and
        every member of a group that can is younger than its window. So with
        cutoff = now - window - SKEW_S nothing dropped is needed; a miss
        would only be read back from the store."""
        if not self.facts.sweep_due():
            return
        self.facts.forget_before(cutoff)
        self._groups = {k: v for k, v in self._groups.items() if v[1].first.created_at >= cutoff}

    async def get(self, tx: Tx, incidents: Sequence[Incident]) -> dict[int, Group]:
        out: dict[int, Group] = {}
        stale: list[Incident] = []
        for inc in incidents:
            hit = self._groups.get(inc.id)
            if hit is not None:
                built, g = hit
                n = len(built)
                if inc.alerts == built:
                    out[inc.id] = g
                    continue
                if len(inc.alerts) > n and inc.alerts[:n] == built:
                    more = await self.facts.get(tx, inc.alerts[n:])
                    if len(more) == len(inc.alerts) - n:
                        for a in inc.alerts[n:]:
                            g = g.with_alert(more[a])
                        out[inc.id] = g
                        self._groups[inc.id] = (inc.alerts, g)
                        continue
            stale.append(inc)
        if stale:
            members = await self.facts.get(tx, sorted({a for inc in stale for a in inc.alerts}))
            if len(self._groups) + len(stale) > self.MAX:
                self._groups.clear()
            for inc in stale:
                built_now = candidate_group(inc, members)
                if built_now is not None:
                    out[inc.id] = built_now
                    if len(members.keys() & inc.alerts) == len(inc.alerts):  # only complete groups are kept
                        self._groups[inc.id] = (inc.alerts, built_now)
        return out


async def group_new_alerts(
    tx: Tx, grouping: Grouping, groups: GroupCache, alerts: Sequence[Alert], now: datetime
) -> tuple[list[Alert], Change, Saved]:
    """Inside create_alert_grouped's transaction: attach each new alert to an incident."""
    cells = sorted({c for a in alerts for c in grouping.neighbourhood(a)})
    since = min(to_utc(a.created_at) for a in alerts) - timedelta(seconds=grouping.window_s)
    found = await candidates(tx, cells, since)
    change = grouping.attach(alerts, found, await groups.get(tx, found), now)
    # a rolled-back batch leaves entries no incident will ever name: ids are not reused
    groups.facts.add(alerts)
    groups.forget_before(now.timestamp() - grouping.window_s - SKEW_S)
    saved = await save(tx, change)
    # the live incident.updated names the unit on it (issue 18: the wall
    # shows which patrol); only incidents with one cost the read
    assigned = sorted({i.unit_id for i in saved.incidents.values() if i.unit_id is not None})
    if assigned:
        saved = dataclasses.replace(saved, units={**(await units_by_id(tx, assigned)), **saved.units})
    return [saved.alerts.get(a.id, a) for a in alerts], change, saved
