"""Parsing is strict and identical: the same bad input gives the same status
and code on the embedded store and on PostgreSQL + Redis, and on every route
that shares the parameter (one parser per kind: dispatch.core.validation)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e import CENTRE
from tests.fuzz_kit import STORES, Live, assert_answer, live_server

# route -> the role that may call it
LIMITED = {"/api/alerts": "dispatcher", "/api/incidents": "dispatcher", "/api/audit": "admin",
           "/api/moderation/residents": "admin"}  # fmt: skip
SINCE = {
    **{p: r for p, r in LIMITED.items() if "moderation" not in p},
    "/api/broadcasts": "dispatcher",
    "/api/stats": "admin",
    "/api/stats.csv": "admin",
}
SECTORED = {"/api/alerts": "dispatcher", "/api/incidents": "dispatcher", "/api/handover": "dispatcher"}
BY_ID = {"/api/alerts/{}": "dispatcher", "/api/incidents/{}": "dispatcher", "/api/broadcasts/{}/receipts": "dispatcher",
         "/api/moderation/residents/{}/proof": "moderator", "/api/admin/residents/{}/export": "admin"}  # fmt: skip
BAD_LIMITS = ["0", "-1", "5001", "abc", "1.5", "1e3", "²", "٣", " 7", "", str(2**63)]
BAD_TIMES = ["hier", "0000-01-01", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1969-12-31", "\x00"]
BAD_IDS = ["0", "-1", "abc", "²", "٣", str(2**63), str(10**30), "1.0"]
GOOD = {"category": "fire", "lat": CENTRE[0], "lon": CENTRE[1]}
NUL_BODIES = [
    ("POST", "/api/alerts", "resident", {**GOOD, "text": "a\x00b"}, "text"),
    ("POST", "/api/alerts", "resident", {**GOOD, "client_id": "\x00"}, "client_id"),
    ("POST", "/api/units", "admin", {"name": "U\x00"}, "name"),
    ("POST", "/api/broadcasts", "dispatcher", {"sectors": "all", "level": "info", "text": "\x00"}, "text"),
    ("POST", "/api/auth/login", "none", {"email": "a\x00@b.fr", "password": "x"}, "email"),
    ("POST", "/api/me/push-subscriptions", "resident", {"endpoint": "https://p.example/\x00"}, "endpoint"),
]


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Live]]:
    with contextlib.ExitStack() as stack:
        yield {s: stack.enter_context(live_server(s, Path(tmp_path_factory.mktemp(f"parity-{s}")))) for s in STORES}


def answer(live: Live, method: str, path: str, role: str, **kw: Any) -> tuple[int, str | None, str | None]:
    r = httpx.request(method, live.url + path, headers=live.headers(role), timeout=30, **kw)
    assert_answer(r, f"{method} {path} [{live.store}]")
    err = r.json()["error"] if r.status_code >= 400 else {}
    return r.status_code, err.get("code"), err.get("field")


def same_everywhere(both: dict[str, Live], calls: list[tuple[str, str, str, dict[str, Any]]]) -> tuple[Any, ...]:
    """The one answer every call gets on every store."""
    seen = {(s, m, p, str(kw)): answer(lv, m, p, role, **kw) for s, lv in both.items() for m, p, role, kw in calls}
    assert len(set(seen.values())) == 1, seen
    return next(iter(seen.values()))


@pytest.mark.parametrize("raw", BAD_LIMITS)
def test_a_bad_limit_is_422_on_every_listing(both: dict[str, Live], raw: str) -> None:
    calls = [("GET", path, role, {"params": {"limit": raw}}) for path, role in LIMITED.items()]
    assert same_everywhere(both, calls) == (422, "out_of_range", "limit")


@pytest.mark.parametrize("raw", BAD_TIMES)
def test_a_bad_since_is_422_on_every_route(both: dict[str, Live], raw: str) -> None:
    calls = [("GET", path, role, {"params": {"since": raw}}) for path, role in SINCE.items()]
    status, code, field = same_everywhere(both, calls)
    assert (status, field) == (422, "since") and code in ("invalid_type", "out_of_range")


@pytest.mark.parametrize("raw", ["atlantis", "\x00", "Centre ", "😀"])
def test_an_unknown_sector_is_422_on_every_route(both: dict[str, Live], raw: str) -> None:
    calls = [("GET", path, role, {"params": {"sector": raw}}) for path, role in SECTORED.items()]
    assert same_everywhere(both, calls) == (422, "unknown_sector", "sector")


@pytest.mark.parametrize("raw", BAD_IDS)
def test_a_bad_path_id_names_nothing(both: dict[str, Live], raw: str) -> None:
    calls = [("GET", path.replace("{}", raw), role, {}) for path, role in BY_ID.items()]
    assert same_everywhere(both, calls)[:2] == (404, "not_found")


@pytest.mark.parametrize("method,path,role,body,field", NUL_BODIES, ids=[f"{b[1]}-{b[4]}" for b in NUL_BODIES])
def test_a_nul_in_any_text_is_refused_alike(both: dict[str, Live], method, path, role, body, field) -> None:
    assert same_everywhere(both, [(method, path, role, {"json": body})]) == (422, "invalid_character", field)


@pytest.mark.parametrize("body", [{"unit": 2**63}, {"unit": -1}, {"unit": 0}])
def test_an_id_past_bigint_in_a_body_is_422(both: dict[str, Live], body: dict[str, Any]) -> None:
    assert same_everywhere(both, [("PATCH", "/api/incidents/1", "dispatcher", {"json": body})]) == (
        422, "invalid_type", "unit",
    )  # fmt: skip
