"""schemathesis against GET /openapi.json, on both stores (embedded SQLite,
PostgreSQL + Redis): a real server, seeded accounts of every role, every
operation called with the credentials its `x-roles` names (Bearer tokens,
each role in turn), with valid and invalid input. Every answer must be no
5xx, a status the document declares, of the declared content type, and
match the declared schema.

Deterministic: hypothesis derandomized (the examples are a function of the
document alone), no example database, no shrinking (a failure is reported
with its curl line as found). SCHEMATHESIS_EXAMPLES sets the examples per
operation and generation mode: 6 by default, both stores in 2 min 14 s on
the shared 2-core machine (517 requests a store); a larger figure is a long
local run, marked slow."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from dispatch.settings import REPO_ROOT
from geo import load_city
from tests.e2e import CENTRE, server_factory, store_env
from tests.seed import Seeded, seed

__all__ = ["server_factory"]
CITY = load_city(REPO_ROOT / "geo" / "cities" / "narbonne.geojson")
DEFAULT_EXAMPLES = 6
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", str(DEFAULT_EXAMPLES)))
# a longer local run is a slow one; the default is what CI runs
pytestmark = [pytest.mark.slow] if EXAMPLES > DEFAULT_EXAMPLES else []
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
SECRET = "schemathesis-secret"
ROLES = ("resident", "dispatcher", "supervisor", "moderator", "admin")
# what fuzzing may not do to the accounts it calls with: their ids are
# swapped for a victim's in the operations that suspend or erase an account
DESTRUCTIVE = {"POST /api/moderation/accounts/{account_id}", "DELETE /api/admin/residents/{account_id}"}
LOGOUT = "POST /api/auth/logout"
ENV = {
    "DISPATCH_NOTIFY_SMS_SECRET": SECRET,
    # failed logins are what fuzzing the login does; a lockout answers after
    # a pause of a second (docs/reference.md, Limits), which would only slow
    # the run: the limits have their own tests
    "DISPATCH_LIMITS_LOGIN_FAILURES_PER_ADDRESS": "1000000",
    "DISPATCH_LIMITS_LOGIN_FAILURES_PER_ACCOUNT": "1000000",
    "DISPATCH_LIMITS_FLAGS_PER_WINDOW": "1000000",
}


@pytest.fixture(params=["sqlite", "postgres"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    return {**store_env(request, tmp_path), **ENV}


class World:
    """The seeded accounts, and a little of everything for the ids to find."""

    def __init__(self, url: str, residents: list[Seeded], staff: list[Seeded]) -> None:
        self.url = url
        self.by_role = {s.role: s for s in [residents[0], *staff[:4]]}
        self.victims = itertools.cycle([r.user_id for r in residents[1:]])
        self.logouts = iter(staff[4:])
        self.protected = {s.user_id for s in self.by_role.values()}
        self.moved = 0

    def inside(self, body: dict[str, Any]) -> bool:
        """True every other time a body has a point to move."""
        if not all(isinstance(body.get(k), (int, float)) and not isinstance(body.get(k), bool) for k in ("lat", "lon")):
            return False
        self.moved += 1
        return self.moved % 2 == 0

    def token(self, role: str) -> str:
        return self.by_role[role].token


async def make_world(url: str, db_url: str) -> World:
    homes = [CENTRE] * 6
    staff = ["dispatcher", "supervisor", "moderator", "admin"] + ["dispatcher"] * (2 * EXAMPLES + 2)
    residents, staffed = await seed(db_url, CITY, homes, staff=staff)
    world = World(url, residents, staffed)
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        auth = {"Authorization": f"Bearer {world.token('resident')}"}
        ops = {"Authorization": f"Bearer {world.token('supervisor')}"}
        for text in ("fumée", "vélo volé"):
            r = await http.post(
                "/api/alerts", json={"category": "fire", "lat": CENTRE[0], "lon": CENTRE[1], "text": text}, headers=auth
            )
            assert r.status_code == 201, r.text
        r = await http.post("/api/units", json={"name": "Patrouille 1"}, headers=ops)
        assert r.status_code == 201, r.text
        r = await http.post("/api/broadcasts", json={"sectors": "all", "text": "essai", "level": "info"}, headers=ops)
        assert r.status_code == 201, r.text
    return world


def request_kwargs(case: Any, world: World, role: str | None) -> dict[str, Any]:
    """What to send: the case as schemathesis serialises it, with this
    role's token, the gateway's signature over the exact bytes, and a
    victim's id in place of a seeded account's."""
    label = f"{case.method.upper()} {case.path}"
    if label in DESTRUCTIVE and case.path_parameters.get("account_id") in world.protected:
        case.path_parameters["account_id"] = next(world.victims)
    body = case.body
    if label == "POST /api/alerts" and isinstance(body, dict) and world.inside(body):
        # a random point is nearly always outside the city (422): put every
        # other one in it, so the store is reached with what else was drawn
        body["lat"], body["lon"] = CENTRE[0] + (body["lat"] % 1) / 500, CENTRE[1] + (body["lon"] % 1) / 500
    kwargs: dict[str, Any] = case.as_transport_kwargs(base_url=world.url)
    headers = kwargs["headers"]
    headers.pop("Authorization", None)
    kwargs["cookies"] = {}  # the token alone says who calls (a generated cookie would be a second session)
    if role is not None:
        token = world.token(role)
        if label == LOGOUT:  # ending the session: one of its own each time
            token = next(world.logouts).token
        headers["Authorization"] = f"Bearer {token}"
    if "X-Dispatch-Signature" in headers:
        if "json" in kwargs:
            kwargs["data"] = json.dumps(kwargs.pop("json")).encode()
        raw = kwargs.get("data") or b""
        raw = raw.encode() if isinstance(raw, str) else raw
        headers["X-Dispatch-Signature"] = hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return kwargs


def fuzz_operation(operation: Any, world: World, http: requests.Session, found: dict[str, str]) -> int:
    allowed = [r for r in ROLES if r in operation.definition.raw.get("x-roles", [])]
    callers: list[str | None] = allowed or [None, "resident"]
    turn = itertools.cycle(callers)
    calls = 0

    for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):

        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case: Any) -> None:
            nonlocal calls
            role = next(turn)
            kwargs = request_kwargs(case, world, role)
            response = http.request(**kwargs, timeout=30, allow_redirects=False)
            calls += 1
            try:
                case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)
            except (Exception, BaseExceptionGroup) as exc:  # every failure is collected, then reported together
                key = f"{operation.label} [{role or 'anyone'}] {response.status_code}"
                found.setdefault(key, str(exc)[:3000])

        try:
            run()
        except Unsatisfiable:  # nothing to make invalid (no parameter, no body)
            assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
    return calls


def test_every_operation_conforms_and_never_answers_5xx(server_factory: Any, env: dict[str, str]) -> None:
    server = server_factory(env)
    world = asyncio.run(make_world(server.url, env["DISPATCH_DATABASE_URL"]))
    doc = httpx.get(server.url + "/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(doc)
    found: dict[str, str] = {}
    calls: dict[str, int] = {}
    with requests.Session() as http:
        for result in schema.get_all_operations():
            operation = result.ok()
            calls[operation.label] = fuzz_operation(operation, world, http, found)
    assert len(calls) == sum(len(item) for item in doc["paths"].values())
    assert all(calls.values()), [label for label, n in calls.items() if not n]
    print(f"schemathesis: {sum(calls.values())} requests over {len(calls)} operations")
    assert not found, "\n\n".join(f"== {k}\n{v}" for k, v in sorted(found.items()))
    assert "Traceback" not in server.log_text()
