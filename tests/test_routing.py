"""dispatch/core/routing.py: an alert's bus channels include the channel of
every home within its radius, wherever the alert and the home are (the
channels of a disk are memoised per fine cell, so they may be a superset,
never less)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from test_grouping import destination

from dispatch.core.routing import CHANNEL_RES, OPS, alert_channels, home_channel
from geo import disk_cells, haversine_m

PROPS = settings(derandomize=True, deadline=None, database=None, max_examples=2000)


class NoSectors:
    def sector_cells(self, sector_id: str, res: int) -> frozenset[str]:
        raise AssertionError("no sector given")


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
