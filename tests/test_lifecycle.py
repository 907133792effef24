"""Table-driven tests of dispatch/core/lifecycle.py: every (current, target)
pair over all statuses, with the expected answer written out."""

from __future__ import annotations

import itertools

import pytest

from dispatch.core import lifecycle
from dispatch.core.lifecycle import (
    CLOSED,
    OPEN,
    STATUSES,
    TransitionError,
    allowed,
    check,
)

# Rows: current status. Columns: target status. Y = allowed, . = forbidden.
# Forward along new -> acknowledged -> assigned -> in_progress (skipping ahead
# allowed), resolved / dismissed / duplicate from any open state, nothing back
# to new, no self-transition, a closed item stays closed.
_TABLE = """
                 new  acknowledged  assigned  in_progress  resolved  dismissed  duplicate
new               .        Y           Y           Y          Y          Y          Y
acknowledged      .        .           Y           Y          Y          Y          Y
assigned          .        .           .           Y          Y          Y          Y
in_progress       .        .           .           .          Y          Y          Y
resolved          .        .           .           .          .          .          .
dismissed         .        .           .           .          .          .          .
duplicate         .        .           .           .          .          .          .
"""


def _parse(table: str) -> list[tuple[str, str, bool]]:
    header, *rows = [line.split() for line in table.strip().splitlines()]
    out = []
    for row in rows:
        current, *marks = row
        assert len(marks) == len(header), row
        for target, mark in zip(header, marks):
            assert mark in ("Y", "."), mark
            out.append((current, target, mark == "Y"))
    return out


CASES = _parse(_TABLE)


def test_the_table_covers_every_pair_exactly_once() -> None:
    pairs = [(c, t) for c, t, _ in CASES]
    assert len(pairs) == len(set(pairs)) == len(STATUSES) ** 2
    assert set(pairs) == {(c, t) for c in STATUSES for t in STATUSES}


@pytest.mark.parametrize(("current", "target", "expected"), CASES, ids=[f"{c}->{t}" for c, t, _ in CASES])
def test_allowed(current: str, target: str, expected: bool) -> None:
    assert allowed(current, target) is expected


@pytest.mark.parametrize(("current", "target", "expected"), CASES, ids=[f"{c}->{t}" for c, t, _ in CASES])
def test_check(current: str, target: str, expected: bool) -> None:
    if expected:
        check(current, target)
    else:
        with pytest.raises(TransitionError) as info:
            check(current, target)
        assert (info.value.current, info.value.target) == (current, target)
        assert str(info.value) == f"cannot go from {current} to {target}"


# The rules the table encodes, stated independently of it.
def test_nothing_goes_back_to_new() -> None:
    assert not any(allowed(s, "new") for s in STATUSES)


def test_closed_stays_closed() -> None:
    assert not any(allowed(c, t) for c in CLOSED for t in STATUSES)


def test_every_exit_is_reachable_from_every_open_state() -> None:
    assert all(allowed(o, c) for o in OPEN for c in CLOSED)


def test_forward_chain() -> None:
    chain = ("new", "acknowledged", "assigned", "in_progress", "resolved")
    assert all(allowed(a, b) for a, b in itertools.pairwise(chain))
    assert not any(allowed(b, a) for a, b in itertools.pairwise(chain))


def test_statuses() -> None:
    assert STATUSES == ("new", "acknowledged", "assigned", "in_progress", "resolved", "dismissed", "duplicate")
    assert set(OPEN).isdisjoint(CLOSED)


@pytest.mark.parametrize("target", ["closed", "", "NEW", "Resolved", "in progress"])
@pytest.mark.parametrize("current", STATUSES)
def test_unknown_target_is_refused(current: str, target: str) -> None:
    assert not allowed(current, target)
    with pytest.raises(TransitionError):
        lifecycle.check(current, target)


@pytest.mark.parametrize("current", ["bogus", "", "Resolved"])
def test_unknown_current_is_refused(current: str) -> None:
    assert not any(allowed(current, t) for t in STATUSES)
