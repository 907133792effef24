"""dispatch/core/grouping.py: grouping alerts into incidents. Hypothesis
properties (the 50 m guarantee of the resolution, order independence, the
window and the neighbourhood as hard limits, incremental == batch) and
examples. Pure: no event loop."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import h3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.core.categories import CATEGORIES
from dispatch.core.grouping import (
    DEFAULT_GROUPING,
    GROUPING_RESOLUTION,
    AlertFacts,
    Group,
    GroupingConfig,
    assign,
    compatible,
    expired,
    group_alerts,
    group_ids,
    neighbours,
    related,
)
from dispatch.core.scoring import DEFAULT_TRIAGE, score

PROPS = settings(derandomize=True, deadline=None, database=None, max_examples=300)

EARTH_RADIUS_M = 6_371_008.8
NARBONNE = (43.1836, 3.0042)
T0 = 1_750_000_000.0  # epoch seconds
WINDOW = DEFAULT_GROUPING.window_s


def destination(lat: float, lon: float, bearing_deg: float, distance_m: float) -> tuple[float, float]:
    """The point distance_m from (lat, lon) along the initial bearing (sphere)."""
    d = distance_m / EARTH_RADIUS_M
    th = math.radians(bearing_deg)
    p1, l1 = math.radians(lat), math.radians(lon)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(th))
    l2 = l1 + math.atan2(math.sin(th) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2))
    return math.degrees(p2), (math.degrees(l2) + 540.0) % 360.0 - 180.0


def cell(lat: float, lon: float) -> str:
    return str(h3.latlng_to_cell(lat, lon, GROUPING_RESOLUTION))


def latlng(c: str) -> tuple[float, float]:
    lat, lon = h3.cell_to_latlng(c)
    return float(lat), float(lon)


def facts(
    id: int, lat: float, lon: float, t: float = T0, category: str = "burglary", author: int | None = None
) -> AlertFacts:
    return AlertFacts.of(id, id if author is None else author, category, lat, lon, t)


# ---------------------------------------------------------------------------
# The resolution: reports <= 50 m apart are ALWAYS in each other's disk.

# Anywhere on Earth (uniform on the sphere), over metropolitan France and
# overseas departments, and right next to the 12 pentagons, where H3 cells are
# the most distorted and the edges the shortest.
_GLOBE = st.tuples(st.floats(-1, 1).map(lambda z: math.degrees(math.asin(z))), st.floats(-180, 180, exclude_max=True))
_FRANCE = st.sampled_from(
    [(41.3, 51.1, -5.2, 9.6), (-21.4, -20.9, 55.2, 55.8), (15.8, 16.5, -61.8, -61.0), (2.1, 5.8, -54.6, -51.6)]
).flatmap(lambda b: st.tuples(st.floats(b[0], b[1]), st.floats(b[2], b[3])))
_PENTAGONS = [latlng(p) for p in sorted(h3.get_pentagons(GROUPING_RESOLUTION))]


def _offset(p: tuple[float, float], bearing: float, distance: float) -> tuple[float, float]:
    return destination(p[0], p[1], bearing, distance)


_NEAR_PENTAGON = st.builds(_offset, st.sampled_from(_PENTAGONS), st.floats(0, 360), st.floats(0, 2_000))
ORIGINS = st.one_of(_GLOBE, _FRANCE, _NEAR_PENTAGON)


def _check_always_neighbours(origin: tuple[float, float], bearing: float, distance: float) -> None:
    lat, lon = origin
    lat2, lon2 = destination(lat, lon, bearing, distance)
    assert h3.great_circle_distance((lat, lon), (lat2, lon2), unit="m") <= distance + 1e-3
    a, b = cell(lat, lon), cell(lat2, lon2)
    assert neighbours(a, b) and neighbours(b, a), (origin, bearing, distance, a, b)


@settings(derandomize=True, deadline=None, database=None, max_examples=3000)
@given(ORIGINS, st.floats(0, 360), st.just(50.0) | st.floats(0, 50))
def test_reports_50_m_apart_are_always_neighbours(origin: tuple[float, float], bearing: float, distance: float) -> None:
    _check_always_neighbours(origin, bearing, distance)


@settings(derandomize=True, deadline=None, database=None, max_examples=1000)
@given(ORIGINS, st.floats(0, 360), st.floats(50, 135))
def test_the_guarantee_extends_to_135_m(origin: tuple[float, float], bearing: float, distance: float) -> None:
    # res 9: the smallest edge anywhere is ~141 m, so ~100 m spreads group too
    _check_always_neighbours(origin, bearing, distance)


@PROPS
@given(_FRANCE, st.floats(0, 360), st.floats(0, 50), st.floats(0, WINDOW), st.sampled_from(sorted(CATEGORIES)))
def test_two_reports_50_m_apart_within_the_window_group(
    origin: tuple[float, float], bearing: float, distance: float, dt: float, category: str
) -> None:
    a = facts(1, *origin, T0, category, author=10)
    b = facts(2, *destination(*origin, bearing, distance), T0 + dt, category, author=11)
    assert group_ids([b, a]) == [frozenset({1, 2})]


# ---------------------------------------------------------------------------
# Random alert sets around Narbonne (a 1.5 km square, an hour), dense enough
# for many groups, chains and ties.

CATEGORY_MIX = st.sampled_from(["burglary", "theft", "suspicious", "fire", "weather", "burglary", "fire"])


@st.composite
def alert_sets(draw: st.DrawFn, max_size: int = 30) -> list[AlertFacts]:
    n = draw(st.integers(0, max_size))
    ids = draw(st.lists(st.integers(1, 10**6), min_size=n, max_size=n, unique=True))
    out = []
    for i in ids:
        lat, lon = destination(*NARBONNE, draw(st.floats(0, 360)), draw(st.floats(0, 750)))
        # whole minutes half of the time: ties on created_at, broken by id
        t = T0 + draw(st.integers(0, 60).map(lambda m: m * 60.0) | st.floats(0, 3600))
        out.append(facts(i, lat, lon, t, draw(CATEGORY_MIX), author=draw(st.integers(1, 8))))
    return out


def _pairs(g: Group) -> list[tuple[AlertFacts, AlertFacts]]:
    return [(a, b) for i, a in enumerate(g.members) for b in g.members[i + 1 :]]


@PROPS
@given(alert_sets(), st.randoms(use_true_random=False))
def test_the_same_alerts_in_any_order_give_the_same_incidents(alerts: list[AlertFacts], rnd: random.Random) -> None:
    expected = group_ids(alerts)
    shuffled = list(alerts)
    rnd.shuffle(shuffled)
    assert group_ids(shuffled) == expected
    assert group_ids(list(reversed(alerts))) == expected
    assert group_alerts(shuffled) == group_alerts(alerts)


@PROPS
@given(alert_sets())
def test_incidents_partition_the_alerts(alerts: list[AlertFacts]) -> None:
    incidents = group_ids(alerts)
    assert sorted(i for inc in incidents for i in inc) == sorted(a.id for a in alerts)
    for g in group_alerts(alerts):
        assert g.key == g.first.id
        assert g.witnesses == len({a.author for a in g.members})


@PROPS
@given(alert_sets())
def test_alerts_past_the_window_never_group(alerts: list[AlertFacts]) -> None:
    for g in group_alerts(alerts):
        for a, b in _pairs(g):
            assert abs(a.created_at - b.created_at) <= WINDOW


@PROPS
@given(alert_sets())
def test_alerts_a_cell_too_far_apart_never_group(alerts: list[AlertFacts]) -> None:
    for g in group_alerts(alerts):
        for a, b in _pairs(g):
            assert neighbours(a.cell, b.cell)
            assert compatible(a.category, b.category)
            assert related(a, b)


@PROPS
@given(alert_sets())
def test_an_alert_starts_an_incident_only_if_none_would_take_it(alerts: list[AlertFacts]) -> None:
    groups = group_alerts(alerts)
    for g in groups:
        earlier = [
            Group(h.key, tuple(m for m in h.members if m.order < g.first.order))
            for h in groups
            if h is not g and h.first.order < g.first.order
        ]
        assert all(not all(related(m, g.first) for m in h.members) for h in earlier)


def _incremental(alerts: list[AlertFacts], rnd: random.Random, prune: bool) -> list[frozenset[int]]:
    """What the live system does: alerts arrive in (created_at, id) order; the
    incident ids are the store's (temporary negative ids here), the candidate
    list comes in any order, and expired incidents may be dropped."""
    live: dict[int, Group] = {}
    next_id = -1
    for alert in sorted(alerts, key=lambda a: (a.created_at, a.id)):
        candidates = [g for g in live.values() if not (prune and expired(g, alert.created_at))]
        rnd.shuffle(candidates)
        key = assign(alert, candidates)
        if key is None:
            live[next_id] = Group.start(alert, key=next_id)
            next_id -= 1
        else:
            live[key] = live[key].with_alert(alert)
    return sorted((g.alert_ids for g in live.values()), key=sorted)


@PROPS
@given(alert_sets(), st.randoms(use_true_random=False), st.booleans())
def test_incremental_and_batch_agree(alerts: list[AlertFacts], rnd: random.Random, prune: bool) -> None:
    assert _incremental(alerts, rnd, prune) == sorted(group_ids(alerts), key=sorted)


@PROPS
@given(_FRANCE, st.floats(0, 360), st.floats(0, 10 * WINDOW))
def test_a_cell_two_rings_away_never_groups_even_through_a_bridge(
    origin: tuple[float, float], bearing: float, dt: float
) -> None:
    # A and B are not neighbours; M is a neighbour of both. Chaining would put
    # all three together; the clique rule never puts A with B.
    c0 = cell(*origin)
    far = sorted(h3.grid_ring(c0, 2))[int(bearing) % 12]
    bridge = min(set(h3.grid_ring(c0, 1)) & set(h3.grid_ring(far, 1)))
    a = facts(1, *latlng(c0), T0)
    m = facts(2, *latlng(bridge), T0 + dt / 20)
    b = facts(3, *latlng(far), T0 + dt / 10)
    assert not neighbours(a.cell, b.cell)
    incidents = group_ids([a, m, b])
    assert not any({1, 3} <= inc for inc in incidents)


# ---------------------------------------------------------------------------
# Examples.


def test_three_burglary_reports_within_100_m_and_5_min_make_one_incident() -> None:
    when = datetime(2025, 7, 14, 22, 0, tzinfo=UTC)
    spots = [NARBONNE, destination(*NARBONNE, 90, 50), destination(*NARBONNE, 90, 100)]
    alerts = [
        AlertFacts.of(101, 7, "burglary", *spots[0], when),
        AlertFacts.of(102, 8, "burglary", *spots[1], when + timedelta(minutes=2)),
        AlertFacts.of(103, 9, "burglary", *spots[2], when + timedelta(minutes=5)),
    ]
    assert h3.great_circle_distance(spots[0], spots[2], unit="m") == pytest.approx(100, abs=0.01)
    (incident,) = group_alerts(alerts)
    assert incident.alert_ids == {101, 102, 103}
    assert incident.witnesses == 3
    assert incident.authors == (7, 8, 9)
    assert incident.first.id == 101
    assert group_ids(alerts[::-1]) == [frozenset({101, 102, 103})]
    # and triage sees three witnesses: 40 + 5 log2(3)
    s = score(incident.lead_category, incident.witnesses, (), 0, False, None, DEFAULT_TRIAGE)
    assert s.priority == pytest.approx(40 + 5 * math.log2(3))


def test_one_author_reporting_twice_is_one_witness() -> None:
    a = facts(1, *NARBONNE, T0, author=5)
    b = facts(2, *destination(*NARBONNE, 0, 30), T0 + 60, author=5)
    c = facts(3, *destination(*NARBONNE, 180, 30), T0 + 120, author=6)
    (g,) = group_alerts([a, b, c])
    assert g.witnesses == 2 and g.authors == (5, 6)


def test_the_window_is_inclusive() -> None:
    a = facts(1, *NARBONNE, T0)
    assert group_ids([a, facts(2, *NARBONNE, T0 + WINDOW)]) == [frozenset({1, 2})]
    assert group_ids([a, facts(2, *NARBONNE, T0 + WINDOW + 0.001)]) == [frozenset({1}), frozenset({2})]


def test_the_window_counts_from_the_first_alert() -> None:
    # every 10 minutes in the same spot: 0 and 10 group, 20 is 20 min after 0
    alerts = [facts(i, *NARBONNE, T0 + i * 600) for i in range(4)]
    assert group_ids(alerts) == [frozenset({0, 1}), frozenset({2, 3})]


@pytest.mark.parametrize(
    ("cat_a", "cat_b", "together"),
    [
        ("burglary", "burglary", True),
        ("burglary", "theft", True),
        ("theft", "suspicious", True),
        ("suspicious", "burglary", True),
        ("fire", "fire", True),
        ("fire", "weather", False),
        ("weather", "fire", False),
        ("vandalism", "rodeo", False),
        ("ecology", "solidarity", False),
        ("burglary", "vandalism", False),
    ],
)
def test_compatibility(cat_a: str, cat_b: str, together: bool) -> None:
    assert compatible(cat_a, cat_b) is together is compatible(cat_b, cat_a)
    a = facts(1, *NARBONNE, T0, cat_a)
    b = facts(2, *NARBONNE, T0 + 60, cat_b)
    assert (len(group_ids([a, b])) == 1) is together


def test_a_mixed_incident_is_triaged_as_its_most_severe_category() -> None:
    alerts = [facts(1, *NARBONNE, T0, "suspicious"), facts(2, *NARBONNE, T0 + 30, "burglary")]
    (g,) = group_alerts(alerts)
    assert g.categories == {"suspicious", "burglary"}
    assert g.lead_category == "burglary"


@pytest.mark.parametrize("older", ["near", "far"])
def test_an_alert_two_incidents_would_take_joins_the_nearest(older: str) -> None:
    # A and B are two rings apart (two incidents); N, in a cell next to both
    # and nearer A, joins A's incident whichever incident is older.
    c0 = cell(*NARBONNE)
    far = min(h3.grid_ring(c0, 2))
    bridge = min(set(h3.grid_ring(c0, 1)) & set(h3.grid_ring(far, 1)))
    (la, lo), (lb, lob) = latlng(bridge), latlng(c0)
    n_at = (la + 0.1 * (lb - la), lo + 0.1 * (lob - lo))  # 10 % of the way towards A
    assert cell(*n_at) == bridge
    a = facts(1, *latlng(c0), T0 + (0 if older == "near" else 60), "fire")
    b = facts(2, *latlng(far), T0 + (60 if older == "near" else 0), "fire")
    n = facts(3, *n_at, T0 + 120, "fire")
    assert sorted(group_ids([a, b, n]), key=min) == [frozenset({1, 3}), frozenset({2})]
    assert assign(n, [Group.start(b, key=-2), Group.start(a, key=-1)]) == -1


def test_a_late_report_starts_a_new_incident_and_the_next_joins_it() -> None:
    a = facts(1, *NARBONNE, T0, "fire")
    late = facts(3, *NARBONNE, T0 + 2400, "fire")
    new = facts(4, *destination(*NARBONNE, 0, 20), T0 + 2410, "fire")
    assert group_ids([new, a, late]) == [frozenset({1}), frozenset({3, 4})]


def test_expired() -> None:
    g = Group.start(facts(1, *NARBONNE, T0))
    assert not expired(g, T0 + WINDOW)
    assert expired(g, T0 + WINDOW + 1)


def test_from_alert_uses_the_grouping_resolution() -> None:
    from dispatch.core.model import Alert

    now = datetime(2025, 1, 1, tzinfo=UTC)
    alert = Alert(
        id=9,
        author=4,
        category="theft",
        lat=NARBONNE[0],
        lon=NARBONNE[1],
        text="",
        client_id=None,
        sector="s1",
        cell=str(h3.latlng_to_cell(*NARBONNE, 7)),
        status="new",
        priority=30.0,
        assignee=None,
        created_at=now,
        updated_at=now,
        seq=1,
    )
    f = AlertFacts.from_alert(alert)
    assert f.cell == cell(*NARBONNE) and h3.get_resolution(f.cell) == GROUPING_RESOLUTION
    assert f.created_at == now.timestamp()


@pytest.mark.parametrize(
    "make",
    [
        lambda: AlertFacts(1, 1, "fire", *NARBONNE, str(h3.latlng_to_cell(*NARBONNE, 10)), T0),
        lambda: AlertFacts(1, 1, "fire", *NARBONNE, "not-a-cell", T0),
        lambda: AlertFacts(1, 1, "meteor", *NARBONNE, cell(*NARBONNE), T0),
        lambda: AlertFacts(1, 1, "fire", *NARBONNE, cell(*NARBONNE), math.nan),
        lambda: AlertFacts.of(1, 1, "fire", *NARBONNE, datetime(2025, 1, 1)),
        lambda: group_ids([facts(1, *NARBONNE), facts(1, *NARBONNE, T0 + 1)]),
        lambda: Group(1, ()),
    ],
)
def test_rejects(make: object) -> None:
    with pytest.raises(ValueError):
        make()  # type: ignore[operator]


def test_grouping_config_from_mapping() -> None:
    assert GroupingConfig.from_mapping({}) == DEFAULT_GROUPING
    cfg = GroupingConfig.from_mapping({"window_min": 5, "compatible": [["fire", "weather"]]})
    assert cfg.window_s == 300
    assert compatible("fire", "weather", cfg) and not compatible("burglary", "theft", cfg)
    a = facts(1, *NARBONNE, T0, "fire")
    b = facts(2, *NARBONNE, T0 + 301, "weather")
    assert group_ids([a, b], cfg) == [frozenset({1}), frozenset({2})]
    assert group_ids([a, facts(2, *NARBONNE, T0 + 300, "weather")], cfg) == [frozenset({1, 2})]
    cases: list[tuple[dict[str, object], str]] = [
        ({"window": 15}, "'window'"),
        ({"window_min": "15"}, "window_min"),
        ({"window_min": -1}, "window"),
        ({"compatible": [["fire", "meteor"]]}, "'meteor'"),
        ({"compatible": "fire"}, "compatible"),
    ]
    for raw, key in cases:
        with pytest.raises(ValueError, match=key):
            GroupingConfig.from_mapping(raw)


# ---------------------------------------------------------------------------
# accepts() decides from a group's sets and bounds: the same answer as the
# definition, member by member, for any group however it was built.

_CATS = sorted(CATEGORIES)
_SMALL_AREA = st.tuples(st.floats(-400, 400), st.floats(-400, 400)).map(
    lambda d: destination(*destination(NARBONNE[0], NARBONNE[1], 0.0, d[0]), 90.0, d[1])
)
_FACTS = st.builds(
    lambda i, p, t, c, a: facts(i, p[0], p[1], T0 + t, c, a),
    st.integers(1, 60),
    _SMALL_AREA,
    st.floats(-1200, 1200),
    st.sampled_from(_CATS),
    st.integers(1, 5),
)


@settings(derandomize=True, deadline=None, database=None, max_examples=1500)
@given(
    st.lists(_FACTS, min_size=1, max_size=12, unique_by=lambda f: f.id),
    _FACTS,
    st.booleans(),
    st.sampled_from([DEFAULT_GROUPING, GroupingConfig(window_s=60.0, compatible=())]),
)
def test_accepts_agrees_with_the_member_by_member_definition(
    members: list[AlertFacts], alert: AlertFacts, grown: bool, cfg: GroupingConfig
) -> None:
    from dispatch.core.grouping import accepts

    if grown:  # built one alert at a time, as the live path does
        g = Group.start(members[0], key=7)
        for m in members[1:]:
            g = g.with_alert(m)
    else:
        g = Group(7, tuple(members))
    assert g == Group(7, tuple(members))
    assert g.authors == tuple(dict.fromkeys(m.author for m in sorted(members, key=lambda m: m.order)))
    assert g.categories == {m.category for m in members}
    expected = all(m.id != alert.id and related(m, alert, cfg) for m in g.members)
    assert accepts(g, alert, cfg) == expected
