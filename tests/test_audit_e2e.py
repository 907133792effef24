"""The audit against real servers, on both stores: every route of the Roles
table that answers a staff caller with a resident's identity (name, e-mail,
phone, address or proof) is one the reference lists as audited, and each
listed route writes an entry naming the caller and the account; triage,
broadcast, moderation and account changes write theirs; GET /api/audit
filters strictly and gives CSV; no entry holds personal data. (That the
application's connection cannot UPDATE or DELETE an entry, on both stores:
tests/test_audit_store.py.)"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e import CENTRE, PASSWORD, Accounts, embedded_env, production_env, server_factory
from tests.joining_kit import STAFF, join, real_pdf
from tests.support import Client, dispatch_cli, login
from tests.test_docs import path_shape, reference, section
from tests.test_role_matrix import documented

__all__ = ["server_factory"]

IDENTITY = {"name": "Zoé Témoin-Audit", "phone": "+33612345678", "address": "7 impasse des Lilas, 11100 Narbonne"}
APPLICANT = {"name": "Hector Demandeur", "phone": "+33698765432", "address": "12 quai Vallière, 11100 Narbonne"}


@pytest.fixture(params=["sqlite", "postgres"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    if request.param == "sqlite":
        return embedded_env(tmp_path)
    return production_env(
        request.getfixturevalue("pg_url"), request.getfixturevalue("redis_url"), request.getfixturevalue("bus_prefix")
    )


def audited_routes() -> set[str]:
    """The list under "Audit" in docs/reference.md."""
    text = section(reference(), "Audit", level=3)
    return {f"GET {path_shape(p)}" for p in re.findall(r"^- `GET ([^`]+)`", text, re.M)}


class World:
    def __init__(self, url: str) -> None:
        self.url = url
        self.staff: dict[str, Client] = {}
        self.ids: dict[str, int] = {}
        self.secrets: list[bytes] = [real_pdf()]

    async def entries(self, **query: Any) -> list[dict[str, Any]]:
        r = await self.staff["admin"].http.get("/api/audit", params={"limit": 5000, **query})
        assert r.status_code == 200, r.text
        return list(r.json())


async def build(url: str, env: dict[str, str]) -> World:
    w = World(url)
    accounts = Accounts(env)
    for role in STAFF:
        accounts.add(role, f"{role}@example.org", name=f"Agent {role}")
        w.staff[role] = await login(url, f"{role}@example.org", PASSWORD)
    w.ids["neighbour"] = accounts.add("resident", "voisin@example.org", *CENTRE, name="Voisin")
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        for who, fields in (("witness", IDENTITY), ("applicant", APPLICANT)):
            r = await join(http, f"{who}@example.org", lat=CENTRE[0], lon=CENTRE[1], **fields)
            assert r.status_code == 201, r.text
            w.ids[who] = r.json()["id"]
            w.secrets += [f"{who}@example.org".encode(), *(v.encode() for v in fields.values())]
    r = await w.staff["moderator"].http.post(
        f"/api/moderation/residents/{w.ids['witness']}", json={"decision": "validate"}
    )
    assert r.status_code == 200, r.text
    witness = await login(url, "witness@example.org", PASSWORD)
    r = await witness.post_alert(category="theft", lat=CENTRE[0], lon=CENTRE[1], text="vélo volé devant chez moi")
    assert r.status_code == 201, r.text
    w.ids["alert"], w.ids["incident"] = r.json()["id"], r.json()["incident"]
    neighbour = await login(url, "voisin@example.org", PASSWORD)
    r = await neighbour.http.post(f"/api/alerts/{w.ids['alert']}/flags", json={"reason": "propos insultants"})
    assert r.status_code == 201, r.text
    w.ids["unit"] = int(dispatch_cli("unit", "add", "Patrouille A", env=env).stdout.strip())
    await witness.aclose()
    await neighbour.aclose()
    return w


def concrete(path: str, w: World) -> str:
    if "/moderation/residents/" in path:
        return path.replace("{}", str(w.ids["applicant"]))
    for key, name in (("alerts", "alert"), ("incidents", "incident"), ("units", "unit")):
        if f"/{key}/" in path:
            return path.replace("{}", str(w.ids[name]))
    return path


def shows_identity(body: bytes, w: World) -> bool:
    return any(s in body for s in w.secrets)


async def test_every_route_that_shows_identity_is_audited(env, server_factory) -> None:
    server = server_factory(env)
    w = await build(server.url, env)
    listed = audited_routes()
    assert listed and listed <= set(documented()), "every audited route is a route of the Roles table"
    seen: set[str] = set()
    for route, answers in documented().items():
        method, _, path = route.partition(" ")
        if method != "GET" or ("{}" in path and path.startswith("/static")) or path.startswith("/vendor"):
            continue
        for role in STAFF:
            if answers[role] != 200:
                continue
            client = w.staff[role]
            before = {e["id"] for e in await w.entries(actor=client.user_id)}
            r = await client.http.get(concrete(path, w))
            assert r.status_code < 500, (route, role, r.text)
            showed = shows_identity(r.content, w) or (route in listed and b'"author"' in r.content)
            new = [e for e in await w.entries(actor=client.user_id) if e["id"] not in before]
            if showed:
                assert route in listed, f"{route} shows a resident's identity to {role} and is not audited"
                seen.add(route)
                assert new, f"{route} for {role} wrote no audit entry"
                accounts = {w.ids["witness"], w.ids["applicant"]}
                assert all(e["action"] in ("identity.view", "proof.view") for e in new), new
                assert {e["record_id"] for e in new} <= accounts and all(e["record_type"] == "account" for e in new)
            elif route != "GET /api/audit":  # reading the audit is not an action on a resident
                assert new == [], (route, role, new)
    assert seen == listed, f"listed as audited but never seen showing identity: {listed - seen}"


async def test_actions_are_audited_and_entries_hold_no_personal_data(env, server_factory) -> None:
    server = server_factory(env)
    w = await build(server.url, env)
    disp, mod, admin = w.staff["dispatcher"], w.staff["moderator"], w.staff["admin"]
    a, i, u = w.ids["alert"], w.ids["incident"], w.ids["unit"]
    assert (await disp.http.patch(f"/api/alerts/{a}", json={"note": "vu"})).status_code == 200
    assert (await disp.http.patch(f"/api/incidents/{i}", json={"status": "acknowledged"})).status_code == 200
    assert (await disp.http.patch(f"/api/units/{u}", json={"status": "busy"})).status_code == 200
    r = await disp.http.post("/api/broadcasts", json={"text": "Route fermée", "level": "info", "sectors": "all"})
    assert r.status_code == 201, r.text
    broadcast = r.json()["id"]
    for action in ("hide", "restore"):
        r = await mod.http.post(f"/api/moderation/alerts/{a}", json={"action": action, "reason": "vérifié"})
        assert r.status_code == 200, r.text
    for action in ("suspend", "reinstate"):
        r = await admin.http.post(
            f"/api/moderation/accounts/{w.ids['witness']}", json={"action": action, "reason": "x"}
        )
        assert r.status_code == 200, r.text
    r = await mod.http.post(
        f"/api/moderation/residents/{w.ids['applicant']}", json={"decision": "reject", "reason": "illisible"}
    )
    assert r.status_code == 200, r.text
    subprocess.run(
        [sys.executable, "-m", "dispatch", "user", "passwd", "--email", "voisin@example.org", "--password-stdin"],
        input=PASSWORD + "!\n",
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    dispatch_cli("user", "disable", "--email", "voisin@example.org", env=env)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        for _ in range(5):
            await http.post("/api/auth/login", json={"email": "dispatcher@example.org", "password": "wrong"})
    got = {(e["action"], e["record_type"], e["record_id"], e["actor"]) for e in await w.entries()}
    expected = {
        ("alert.patch", "alert", a, disp.user_id),
        ("incident.patch", "incident", i, disp.user_id),
        ("unit.patch", "unit", u, disp.user_id),
        ("broadcast.send", "broadcast", broadcast, disp.user_id),
        ("moderation.hide", "alert", a, mod.user_id),
        ("moderation.restore", "alert", a, mod.user_id),
        ("moderation.suspend", "account", w.ids["witness"], admin.user_id),
        ("moderation.reinstate", "account", w.ids["witness"], admin.user_id),
        ("moderation.validate", "account", w.ids["witness"], mod.user_id),
        ("moderation.reject", "account", w.ids["applicant"], mod.user_id),
        ("account.create", "account", w.ids["neighbour"], None),
        ("account.create", "account", w.ids["witness"], w.ids["witness"]),
        ("account.password", "account", w.ids["neighbour"], None),
        ("account.disable", "account", w.ids["neighbour"], None),
        ("account.lockout", "account", disp.user_id, None),
    }
    assert expected <= got, expected - got
    # no personal data in any entry, as JSON or as the DPO's CSV
    r = await admin.http.get("/api/audit", params={"format": "csv", "limit": 5000})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.text.strip().split("\r\n")
    assert lines[0] == "id,at,actor,action,record_type,record_id" and len(lines) == len(await w.entries()) + 1
    raw = (await admin.http.get("/api/audit", params={"limit": 5000})).content + r.content
    for secret in [*w.secrets[1:], b"Agent", b"Voisin", b"example.org", b"Route ferm", b"illisible", b"Patrouille"]:
        assert secret not in raw, secret


async def test_the_audit_filters_strictly(env, server_factory) -> None:
    server = server_factory(env)
    accounts = Accounts(env)
    for role in ("admin", "supervisor"):
        accounts.add(role, f"{role}@example.org")
    admin = await login(server.url, "admin@example.org", PASSWORD)
    sup = await login(server.url, "supervisor@example.org", PASSWORD)
    for bad, field in (
        ({"since": "hier"}, "since"),
        ({"actor": "x1"}, "actor"),
        ({"actor": "-1"}, "actor"),
        ({"action": "nope"}, "action"),
        ({"limit": "0"}, "limit"),
        ({"limit": "5001"}, "limit"),
        ({"format": "xml"}, "format"),
        ({"who": "1"}, "who"),
    ):
        r = await admin.http.get("/api/audit", params=bad)
        assert r.status_code == 422 and r.json()["error"]["field"] == field, (bad, r.text)
    assert (await sup.http.get("/api/audit")).status_code == 403
    assert (await sup.http.patch("/api/units/999", json={"status": "busy"})).status_code == 404
    start = datetime.now(UTC)
    r = await sup.http.post("/api/units", json={"name": "Patrouille B"})
    unit = r.json()["id"]
    for status in ("busy", "available"):
        assert (await sup.http.patch(f"/api/units/{unit}", json={"status": status})).status_code == 200
    mine = await admin.http.get("/api/audit", params={"actor": sup.user_id})
    assert [(e["action"], e["record_id"]) for e in mine.json()] == [("unit.patch", unit)] * 2
    assert mine.json()[0]["id"] > mine.json()[1]["id"]  # newest first
    assert len((await admin.http.get("/api/audit", params={"actor": sup.user_id, "limit": 1})).json()) == 1
    later = (start + timedelta(hours=1)).isoformat()
    assert (await admin.http.get("/api/audit", params={"since": later})).json() == []
    created = await admin.http.get("/api/audit", params={"action": "account.create"})
    assert {e["action"] for e in created.json()} == {"account.create"} and len(created.json()) == 2
    await admin.aclose()
    await sup.aclose()
