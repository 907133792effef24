"""dispatch/core/routing.py: an alert's bus channels include the channel of
every home within its radius, wherever the alert and the home are (the
channels of a disk are memoised per fine cell, so they may be a superset,
never less)."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.core.routing import CHANNEL_RES, OPS, alert_channels, home_channel
from geo import disk_cells, haversine_m

PROPS = settings(derandomize=True, deadline=None, database=None, max_examples=2000)
EARTH_RADIUS_M = 6_371_008.8


class NoSectors:
    def sector_cells(self, sector_id: str, res: int) -> frozenset[str]:
        raise AssertionError("no sector given")


def destination(lat: float, lon: float, bearing_deg: float, distance_m: float) -> tuple[float, float]:
    d = distance_m / EARTH_RADIUS_M
    th = math.radians(bearing_deg)
    p1, l1 = math.radians(lat), math.radians(lon)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(th))
    l2 = l1 + math.atan2(math.sin(th) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2))
    return math.degrees(p2), (math.degrees(l2) + 540.0) % 360.0 - 180.0


POINTS = st.one_of(
    st.tuples(st.floats(43.10, 43.25), st.floats(2.90, 3.15)),  # Narbonne
    st.tuples(st.floats(-80, 80), st.floats(-180, 180, exclude_max=True)),  # anywhere
)


@PROPS
@given(POINTS, st.floats(0, 5_000), st.floats(0, 360), st.floats(0, 1))
def test_every_home_within_the_radius_is_on_a_channel(
    alert: tuple[float, float], radius: float, bearing: float, frac: float
) -> None:
    channels = alert_channels(alert[0], alert[1], None, radius, NoSectors())
    assert channels[0] == OPS and len(set(channels)) == len(channels)
    assert {"c:" + c for c in disk_cells(alert[0], alert[1], radius, CHANNEL_RES)} <= set(channels)
    home = destination(alert[0], alert[1], bearing, radius * frac)
    if haversine_m(alert[0], alert[1], home[0], home[1]) <= radius:
        assert home_channel(*home) in channels


@PROPS
@given(POINTS, st.floats(0, 360))
def test_homes_right_at_the_radius_edge_are_on_a_channel(alert: tuple[float, float], bearing: float) -> None:
    radius = 500.0
    home = destination(alert[0], alert[1], bearing, radius - 1e-6)
    assert home_channel(*home) in alert_channels(alert[0], alert[1], None, radius, NoSectors())
