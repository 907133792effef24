"""Which alerts belong together in one incident: the grouping rule.

Pure: no I/O, no clock, no event loop.

Rule
----
Two alerts are *related* when

* their categories are compatible: the same category, or both in one group
  of ``GroupingConfig.compatible`` (default: burglary ~ theft ~ suspicious --
  a burglary in progress is often first reported as a suspicious person or a
  theft);
* they are neighbours: each one's cell (at ``GROUPING_RESOLUTION``) is in the
  other's ``h3.grid_disk(cell, 1)`` -- the relation is symmetric;
* they were created at most ``window_s`` apart (default 15 minutes, inclusive).

An incident is a *clique* of related alerts: every two alerts of one incident
are related (complete linkage). So alerts more than the window apart, or not
in each other's disk, NEVER end up in the same incident, however many alerts
lie between them: connected components would chain a street's worth of
reports into one incident, and anchoring on the first alert only would still
let two members be two rings (up to ~1.5 km) apart.

Alerts are processed in (created_at, id) order. Each alert joins the open
group that accepts it (related to every member); if several do, the one whose
first alert is nearest in metres, then the oldest, then the lowest first
alert id; if none does, it starts a new group. Because the processing order
is a function of the alerts alone, the same set in any input order gives the
same incidents (order independence), and the result is deterministic.

Fire, weather, rodeo, vandalism, ecology and solidarity group only with their
own category. In particular fire ~ weather is NOT compatible: a fire (severity
5, 2-minute target) must never be hidden inside a storm incident, nor a storm
report inflate a fire's witness count.

Resolution
----------
``GROUPING_RESOLUTION = 9``. For a hexagonal tiling, the smallest distance
from a point of a cell to the outside of its 1-ring is reached at the cell's
vertices and equals the edge length there, so any two points closer than the
smallest edge length are always in each other's disk. Measured with h3 4.x
(exact segment distances in a local gnomonic projection, random cells plus
every cell within 6-12 rings of the 12 pentagons):

====  ===========  ==========================  ==========================
res   avg edge     min margin, France (m)      min margin, whole globe (m)
====  ===========  ==========================  ==========================
 9     200.8 m      171.6                       141.1 (next to a pentagon)
10      75.9 m       66.3                        56.5 (next to a pentagon)
11      28.7 m       24.5                        20.2
====  ===========  ==========================  ==========================

Resolution 11 cannot guarantee 50 m. Resolution 10 does, by 6.5 m. Resolution 9
guarantees 141 m anywhere on Earth: 2.8 times the 50 m requirement, and enough
that reports 100 m apart (several residents reporting the same event from
their windows) are always neighbours. The price is the other end: two alerts
in neighbouring res-9 cells can be up to ~760 m apart (measured over France),
so distinct events in the same quarter may group; the 15-minute window,
category compatibility and the operators' split bound that. Resolution 9 is
also the city's default ``cell_resolution``.

API
---
``AlertFacts``        what grouping needs to know of an alert.
``Group``             an incident under construction: its members, sorted.
``group(alerts, cfg) -> list[frozenset[int]]``      the batch form.
``group_alerts(alerts, cfg) -> list[Group]``        the same, with members.
``assign(alert, open_groups, cfg) -> int | None``   the incremental form: the
    key of the group the new alert joins, or None to start a new incident.
``expired(group, now_epoch_s, cfg)``                whether a group can still
    accept alerts created at or after now (the live system may drop expired
    groups from the candidates without changing any result).

Feeding ``assign`` the alerts in (created_at, id) order, with every group
formed so far (or at least every non-expired one), gives exactly
``group_alerts``. The live system diverges from the batch form where it means
to: incidents closed, merged or split by operators.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

import h3

from dispatch.core.categories import CATEGORIES
from dispatch.core.model import Alert
from geo import haversine_m

GROUPING_RESOLUTION = 9
DEFAULT_WINDOW_S = 15 * 60.0
DEFAULT_COMPATIBLE: tuple[frozenset[str], ...] = (frozenset({"burglary", "theft", "suspicious"}),)


def cell_at_grouping_res(lat: float, lon: float) -> str:
    return str(h3.latlng_to_cell(lat, lon, GROUPING_RESOLUTION))


@lru_cache(maxsize=1 << 14)
def _disk(cell: str) -> frozenset[str]:
    return frozenset(str(c) for c in h3.grid_disk(cell, 1))


def neighbours(cell_a: str, cell_b: str) -> bool:
    """cell_b is cell_a or one of its six (five at a pentagon) neighbours."""
    return cell_b in _disk(cell_a)


def _epoch(ts: float | datetime) -> float:
    if isinstance(ts, datetime):
        if ts.tzinfo is None:
            raise ValueError("created_at must be an aware datetime")
        return ts.timestamp()
    return float(ts)


@dataclass(frozen=True)
class AlertFacts:
    id: int
    author: int
    category: str
    lat: float
    lon: float
    cell: str  # at GROUPING_RESOLUTION
    created_at: float  # epoch seconds

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"unknown category {self.category!r}")
        if not math.isfinite(self.created_at):
            raise ValueError(f"created_at must be finite, got {self.created_at}")
        if not h3.is_valid_cell(self.cell) or h3.get_resolution(self.cell) != GROUPING_RESOLUTION:
            raise ValueError(f"cell {self.cell!r} is not an H3 cell at resolution {GROUPING_RESOLUTION}")

    @classmethod
    def of(
        cls, id: int, author: int, category: str, lat: float, lon: float, created_at: float | datetime
    ) -> AlertFacts:
        """Computes the cell at the grouping resolution; created_at may be an
        aware datetime."""
        return cls(id, author, category, lat, lon, cell_at_grouping_res(lat, lon), _epoch(created_at))

    @classmethod
    def from_alert(cls, alert: Alert) -> AlertFacts:
        # alert.cell is at the city's cell_resolution, which config may change:
        # recompute at ours. An anonymous alert (its author erased) counts as
        # one unnamed witness, 0.
        return cls.of(alert.id, alert.author or 0, alert.category, alert.lat, alert.lon, alert.created_at)

    @property
    def order(self) -> tuple[float, int]:
        return (self.created_at, self.id)


def disk(cell: str) -> frozenset[str]:
    """The cell and its neighbours at GROUPING_RESOLUTION (memoised)."""
    return _disk(cell)


@dataclass(frozen=True)
class GroupingConfig:
    window_s: float = DEFAULT_WINDOW_S
    compatible: tuple[frozenset[str], ...] = DEFAULT_COMPATIBLE
    _pairs: frozenset[tuple[str, str]] = field(init=False, repr=False, compare=False, hash=False, default=frozenset())

    def __post_init__(self) -> None:
        if isinstance(self.window_s, bool) or not isinstance(self.window_s, (int, float)):
            raise ValueError(f"[triage.grouping] window: expected a number, got {self.window_s!r}")
        if not math.isfinite(self.window_s) or self.window_s < 0:
            raise ValueError(f"[triage.grouping] window: expected a finite number >= 0, got {self.window_s!r}")
        groups = tuple(frozenset(g) for g in self.compatible)
        for g in groups:
            for cat in g:
                if cat not in CATEGORIES:
                    raise ValueError(f"[triage.grouping] compatible: unknown category {cat!r}")
        object.__setattr__(self, "window_s", float(self.window_s))
        object.__setattr__(self, "compatible", groups)
        object.__setattr__(self, "_pairs", frozenset((a, b) for g in groups for a in g for b in g))

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> GroupingConfig:
        """From config.toml's [triage.grouping] table: ``window_min`` (number)
        and ``compatible`` (list of lists of category ids, replacing the
        default table). Unknown keys are a ValueError naming the key."""
        kwargs: dict[str, Any] = {}
        for key, value in raw.items():
            if key == "window_min":
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ValueError(f"[triage.grouping] window_min: expected a number, got {value!r}")
                kwargs["window_s"] = float(value) * 60.0
            elif key == "compatible":
                if isinstance(value, str) or not isinstance(value, Sequence):
                    raise ValueError("[triage.grouping] compatible: expected a list of lists of categories")
                groups = []
                for g in value:
                    if isinstance(g, str) or not isinstance(g, Sequence):
                        raise ValueError("[triage.grouping] compatible: expected a list of lists of categories")
                    groups.append(frozenset(str(c) for c in g))
                kwargs["compatible"] = tuple(groups)
            else:
                raise ValueError(f"[triage.grouping] unknown key {key!r}")
        return cls(**kwargs)


DEFAULT_GROUPING = GroupingConfig()


def compatible(cat_a: str, cat_b: str, cfg: GroupingConfig = DEFAULT_GROUPING) -> bool:
    return cat_a == cat_b or (cat_a, cat_b) in cfg._pairs


def related(a: AlertFacts, b: AlertFacts, cfg: GroupingConfig = DEFAULT_GROUPING) -> bool:
    """Compatible, neighbours and at most the window apart (symmetric)."""
    return (
        compatible(a.category, b.category, cfg)
        and abs(a.created_at - b.created_at) <= cfg.window_s
        and neighbours(a.cell, b.cell)
    )


@dataclass(frozen=True)
class Group:
    """An incident as grouping sees it. ``key`` is the caller's incident id
    (``group_alerts`` uses the first alert's id); members are kept in
    (created_at, id) order, so ``members[0]`` is the first alert.

    Whether an alert is related to every member depends only on the
    members' categories, cells and creation times, so a group also keeps
    those as sets and bounds (``accepts`` is then O(1) however large the
    group: an incident can gather hundreds of reports in a busy hour)."""

    key: int
    members: tuple[AlertFacts, ...]

    def __post_init__(self) -> None:
        if not self.members:
            raise ValueError("a group has at least one alert")
        ordered = tuple(sorted(self.members, key=lambda a: a.order))
        if len({a.id for a in ordered}) != len(ordered):
            raise ValueError("a group lists an alert twice")
        object.__setattr__(self, "members", ordered)
        object.__setattr__(self, "_ids", frozenset(a.id for a in ordered))
        object.__setattr__(self, "_cells", frozenset(a.cell for a in ordered))
        object.__setattr__(self, "categories", frozenset(a.category for a in ordered))
        object.__setattr__(self, "_span", (ordered[0].created_at, max(a.created_at for a in ordered)))
        object.__setattr__(self, "authors", tuple(dict.fromkeys(a.author for a in ordered)))

    # set by __post_init__ (and with_alert), derived from members
    _ids: frozenset[int] = field(init=False, repr=False, compare=False)
    _cells: frozenset[str] = field(init=False, repr=False, compare=False)
    _span: tuple[float, float] = field(init=False, repr=False, compare=False)
    categories: frozenset[str] = field(init=False, repr=False, compare=False)
    """The members' categories."""
    authors: tuple[int, ...] = field(init=False, repr=False, compare=False)
    """Distinct authors in order of first report."""

    @classmethod
    def start(cls, alert: AlertFacts, key: int | None = None) -> Group:
        return cls(alert.id if key is None else key, (alert,))

    def with_alert(self, alert: AlertFacts) -> Group:
        if alert.id in self._ids:
            raise ValueError("a group lists an alert twice")
        if alert.order < self.members[-1].order:  # rare: clock skew between workers
            return Group(self.key, (*self.members, alert))
        g = object.__new__(Group)
        put = object.__setattr__
        put(g, "key", self.key)
        put(g, "members", (*self.members, alert))
        put(g, "_ids", self._ids | {alert.id})
        put(g, "_cells", self._cells | {alert.cell})
        put(g, "categories", self.categories | {alert.category})
        put(g, "_span", (self._span[0], max(self._span[1], alert.created_at)))
        put(g, "authors", self.authors if alert.author in self.authors else (*self.authors, alert.author))
        return g

    @property
    def first(self) -> AlertFacts:
        return self.members[0]

    @property
    def alert_ids(self) -> frozenset[int]:
        return self._ids

    @property
    def witnesses(self) -> int:
        return len(self.authors)

    @property
    def lead_category(self) -> str:
        """The most severe category among the members (ties: the first
        alert's, then by name): what the incident is triaged as."""
        first = self.first.category
        return max(
            sorted(self.categories),
            key=lambda c: (CATEGORIES[c].severity, c == first),
        )


def accepts(group: Group, alert: AlertFacts, cfg: GroupingConfig = DEFAULT_GROUPING) -> bool:
    """Whether the alert may join: related to every member. The same as
    ``all(m.id != alert.id and related(m, alert, cfg) for m in group.members)``
    (tests/test_grouping.py checks it), from the group's sets and bounds."""
    if alert.id in group._ids:
        return False
    earliest, latest = group._span
    if alert.created_at - earliest > cfg.window_s or latest - alert.created_at > cfg.window_s:
        return False
    if not all(compatible(c, alert.category, cfg) for c in group.categories):
        return False
    around = _disk(alert.cell)  # neighbours() is symmetric
    return all(c in around for c in group._cells)


def expired(group: Group, now_epoch_s: float, cfg: GroupingConfig = DEFAULT_GROUPING) -> bool:
    """True once no alert created at or after now can join the group."""
    return now_epoch_s - group.first.created_at > cfg.window_s


def _preference(group: Group, alert: AlertFacts) -> tuple[float, float, int]:
    first = group.first
    return (haversine_m(first.lat, first.lon, alert.lat, alert.lon), first.created_at, first.id)


def assign(alert: AlertFacts, open_groups: Iterable[Group], cfg: GroupingConfig = DEFAULT_GROUPING) -> int | None:
    """The key of the group the new alert joins, or None for a new incident."""
    best: tuple[tuple[float, float, int], int] | None = None
    for g in open_groups:
        if accepts(g, alert, cfg):
            pref = _preference(g, alert)
            if best is None or pref < best[0]:
                best = (pref, g.key)
    return None if best is None else best[1]


def group_alerts(alerts: Sequence[AlertFacts], cfg: GroupingConfig = DEFAULT_GROUPING) -> list[Group]:
    """Batch grouping; groups in order of their first alert."""
    if len({a.id for a in alerts}) != len(alerts):
        raise ValueError("alert ids must be unique")
    groups: dict[int, Group] = {}
    for alert in sorted(alerts, key=lambda a: a.order):
        candidates = [g for g in groups.values() if not expired(g, alert.created_at, cfg)]
        key = assign(alert, candidates, cfg)
        if key is None:
            groups[alert.id] = Group.start(alert)
        else:
            groups[key] = groups[key].with_alert(alert)
    return list(groups.values())


def group_ids(alerts: Sequence[AlertFacts], cfg: GroupingConfig = DEFAULT_GROUPING) -> list[frozenset[int]]:
    """The incidents as sets of alert ids, in order of their first alert."""
    return [g.alert_ids for g in group_alerts(alerts, cfg)]
