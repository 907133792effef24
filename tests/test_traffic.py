"""Issue 18: `dispatch simulate` looks like a town, not a uniform carpet.
The generator (dispatch/cli/traffic.py) is a pure function of its seed; its
statistical shape is held here over several seeds: category proportions,
witnesses clustered in time and space, busy and quiet sectors."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from dispatch.cli.traffic import CATEGORY_WEIGHTS, CLUSTER_M, CLUSTER_S, town_traffic
from dispatch.core.categories import CATEGORIES
from geo import DEMO_CITY_PATH, haversine_m, load_city

CITY = load_city(DEMO_CITY_PATH)


@pytest.fixture(scope="module", params=[1, 2, 3])
def reports(request):
    return town_traffic(CITY, rate=10, duration=300, seed=request.param)


def test_it_is_a_pure_function_of_its_seed() -> None:
    assert town_traffic(CITY, 5, 60, 7) == town_traffic(CITY, 5, 60, 7)
    assert town_traffic(CITY, 5, 60, 7) != town_traffic(CITY, 5, 60, 8)


def test_count_order_and_places(reports) -> None:
    assert len(reports) == 3000
    assert [r.at_s for r in reports] == sorted(r.at_s for r in reports)
    assert all(0 <= r.at_s < 300 for r in reports)
    assert all(CITY.sector_of(r.lat, r.lon) == r.sector for r in reports)  # every point in the town
    assert set(CATEGORY_WEIGHTS) <= set(CATEGORIES)


def test_category_proportions(reports) -> None:
    share = {c: n / len(reports) for c, n in Counter(r.category for r in reports).items()}
    assert 0.36 <= share["solidarity"] <= 0.44  # about 40 % mutual aid
    assert share["fire"] <= 0.05 and share["fire"] < min(share[c] for c in ("suspicious", "theft"))
    for c, w in CATEGORY_WEIGHTS.items():
        assert share.get(c, 0) == pytest.approx(w, abs=0.03), c


def test_witnesses_cluster_in_time_and_space(reports) -> None:
    events = defaultdict(list)
    for r in reports:
        events[r.event].append(r)
    clusters = [e for e in events.values() if len(e) >= 2]
    in_clusters = sum(len(e) for e in clusters)
    assert len(clusters) >= 50 and 0.05 <= in_clusters / len(reports) <= 0.35
    for e in clusters:
        first = min(e, key=lambda r: r.at_s)
        assert len({r.category for r in e}) == 1
        assert all(r.at_s - first.at_s <= CLUSTER_S for r in e)
        assert all(haversine_m(first.lat, first.lon, r.lat, r.lon) <= 2 * CLUSTER_M + 1 for r in e)
    assert all(r.category != "solidarity" for e in clusters for r in e)  # one neighbour asks for help


def test_busy_and_quiet_sectors(reports) -> None:
    per_sector = Counter(r.sector for r in reports)
    assert set(per_sector) == set(CITY.sector_ids)  # every sector has some
    busiest, quietest = max(per_sector.values()), min(per_sector.values())
    assert busiest >= 4 * quietest
    # a Zipf law over the sectors (seeded order), whatever their areas
    n = len(CITY.sector_ids)
    zipf = [1 / (k + 1) for k in range(n)]
    shares = sorted((c / len(reports) for c in per_sector.values()), reverse=True)
    assert shares == pytest.approx([w / sum(zipf) for w in zipf], abs=0.03)
