"""dispatch/core/routing.py: an event's bus channels include the channel of
every resident it concerns, wherever the event and the home are, in the demo
city, in cities with holes, islands, slivers and overlapping sectors, and
outside every sector (the channels of a disk are memoised per fine cell, so
they may be a superset, never less)."""

from __future__ import annotations

import statistics

from hypothesis import given, settings
from hypothesis import strategies as st
from test_geo_sectors import CITIES, LAT0, LON0, UNIT
from test_grouping import destination

from dispatch.core.routing import OPS, alert_channels, broadcast_channels, home_channel
from geo import City, haversine_m

PROPS = settings(derandomize=True, deadline=None, database=None, max_examples=1500)


class NoSectors:
    """A city with no sector at all: every home is on an outside cell channel."""

    def cell_sectors(self, cell: str) -> tuple[frozenset[str], bool]:
        return frozenset(), True

    def sector_of(self, lat: float, lon: float) -> str | None:
        return None


CITY_NAMES = ["demo", "synthetic", "synthetic-r7", "overlapping", "none"]
NO_SECTORS = NoSectors()


def _city(name: str) -> City | NoSectors:
    return NO_SECTORS if name == "none" else CITIES[name]


def _points(name: str) -> st.SearchStrategy[tuple[float, float]]:
    if name == "demo":
        box = st.tuples(st.floats(43.10, 43.25), st.floats(2.90, 3.15))
    elif name == "none":
        box = st.tuples(st.floats(-80, 80), st.floats(-180, 180, exclude_max=True))  # anywhere on Earth
    else:
        box = st.tuples(st.floats(LAT0 - 2 * UNIT, LAT0 + 8 * UNIT), st.floats(LON0 - 2 * UNIT, LON0 + 10 * UNIT))
    return box


@st.composite
def scenes(
    draw: st.DrawFn, max_radius: float
) -> tuple[City | NoSectors, tuple[float, float], float, tuple[float, float]]:
    name = draw(st.sampled_from(CITY_NAMES))
    centre = draw(_points(name))
    radius = draw(st.floats(0, max_radius))
    home = destination(centre[0], centre[1], draw(st.floats(0, 360)), radius * draw(st.floats(0, 1)))
    return _city(name), centre, radius, home


def _channel(city: City | NoSectors, home: tuple[float, float]) -> str:
    return home_channel(home[0], home[1], city.sector_of(*home))


@PROPS
@given(scenes(5_000))
def test_every_home_within_an_alerts_radius_is_on_one_of_its_channels(scene) -> None:  # type: ignore[no-untyped-def]
    city, alert, radius, home = scene
    channels = alert_channels(alert[0], alert[1], city.sector_of(*alert), radius, city)
    assert channels[0] == OPS and len(set(channels)) == len(channels)
    if haversine_m(alert[0], alert[1], home[0], home[1]) <= radius:
        assert _channel(city, home) in channels


@PROPS
@given(st.sampled_from(CITY_NAMES[:4]), st.data())
def test_every_home_of_an_alerts_sector_is_on_one_of_its_channels(name: str, data: st.DataObject) -> None:
    city = CITIES[name]
    alert, home = data.draw(_points(name)), data.draw(_points(name))
    sector = city.sector_of(*alert)
    if sector is not None and city.sector_of(*home) == sector:
        assert _channel(city, home) in alert_channels(alert[0], alert[1], sector, 500.0, city)


@PROPS
@given(scenes(60_000))
def test_every_home_in_a_broadcast_circle_is_on_one_of_its_channels(scene) -> None:  # type: ignore[no-untyped-def]
    city, centre, radius, home = scene
    radius = max(radius, 1.0)
    channels = broadcast_channels(None, {"lat": centre[0], "lon": centre[1], "radius_m": radius}, city)
    if haversine_m(centre[0], centre[1], home[0], home[1]) <= radius:
        assert _channel(city, home) in channels


@PROPS
@given(st.sampled_from(CITY_NAMES), st.data(), st.floats(0, 360))
def test_homes_right_at_the_radius_edge_are_on_a_channel(name: str, data: st.DataObject, bearing: float) -> None:
    city = _city(name)
    alert = data.draw(_points(name))
    home = destination(alert[0], alert[1], bearing, 500.0 - 1e-6)
    assert _channel(city, home) in alert_channels(alert[0], alert[1], city.sector_of(*alert), 500.0, city)


def test_sector_broadcasts_name_the_sector_channels() -> None:
    city = CITIES["demo"]
    some = list(city.sector_ids[:3])
    assert broadcast_channels(some, None, city) == [OPS, *sorted("s:" + s for s in some)]


def test_an_alert_names_few_channels_so_few_rows_are_written() -> None:
    """Each channel of an event is a stored row and a Redis publish: in the
    demo city an alert with the default radius names its sector and the few
    it touches, not a channel per cell of its sector (25 on average before)."""
    import random

    city = CITIES["demo"]
    rng = random.Random(4)
    counts = []
    for _ in range(500):
        lat, lon = city.random_point(rng)
        channels = alert_channels(lat, lon, city.sector_of(lat, lon), 500.0, city)
        assert "s:" + str(city.sector_of(lat, lon)) in channels
        counts.append(len(channels) - 1)
    assert statistics.mean(counts) <= 5, statistics.mean(counts)


def test_a_home_whose_channel_cell_is_not_its_own_cell_is_reached_by_a_large_circle() -> None:
    """H3 children do not tile their parent: near a coarse cell's edge, a
    home's channel cell (the parent of its fine cell) can be the neighbour of
    the coarse cell it lies in. A circle over 5 km is covered with coarse
    cells, so those neighbours must be named too."""
    import math
    import random

    import h3

    from dispatch.core.routing import AREA_RES, CHANNEL_RES

    rng = random.Random(7)
    found = 0
    while found < 40:
        home = (rng.uniform(-70, 70), rng.uniform(-179, 179))
        fine = h3.latlng_to_cell(*home, AREA_RES)
        if h3.cell_to_parent(fine, CHANNEL_RES) == h3.latlng_to_cell(*home, CHANNEL_RES):
            continue
        found += 1
        # the circle lies on the far side of the home from its channel cell
        plat, plon = h3.cell_to_latlng(h3.cell_to_parent(fine, CHANNEL_RES))
        away = math.degrees(math.atan2(home[1] - plon, home[0] - plat))
        centre = destination(home[0], home[1], away, 6_000.0 - 0.5)
        channels = broadcast_channels(None, {"lat": centre[0], "lon": centre[1], "radius_m": 6_000.0}, NO_SECTORS)
        assert _channel(NO_SECTORS, home) in channels
