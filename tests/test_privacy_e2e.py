"""Issue 20, export and erasure, on both stores, through a real server: the
export holds everything the store has about one resident (compared with the
store's own rows), and after the erasure no row anywhere holds the
resident's e-mail, name, phone, address, home or proof, the alerts still
count in the statistics, and the resident's open socket closes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e import CENTRE, PASSWORD, Accounts, embedded_env, production_env, server_factory
from tests.joining_kit import decide, join
from tests.notify_standins import Subscriber
from tests.privacy_kit import holding, tables
from tests.support import closed_with, login, stream

__all__ = ["server_factory"]

NAME, PHONE, ADDRESS = "Albertine Sarrazin", "+33611223344", "17 quai Vallière, 11100 Narbonne"
HOME = (43.18412, 3.00391)
TEXT = "Un homme en survêtement rouge force la porte du n° 17"


@pytest.fixture(params=["sqlite", "postgres"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    if request.param == "sqlite":
        out = embedded_env(tmp_path)
    else:
        pg = request.getfixturevalue("pg_url")
        out = production_env(pg, request.getfixturevalue("redis_url"), request.getfixturevalue("bus_prefix"))
    out["DISPATCH_PROOFS_DIR"] = str(tmp_path / "proofs")
    return out


async def _joined_resident(url: str, env: dict[str, str]) -> tuple[Any, Any, Any]:
    """A resident who joined with a proof, phone and address, validated;
    logged-in clients for them, a supervisor and an admin."""
    accounts = Accounts(env)
    for role in ("moderator", "supervisor", "admin"):
        accounts.add(role, f"{role}@example.org")
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        r = await join(http, "albertine@example.org", name=NAME, phone=PHONE, address=ADDRESS, lat=HOME[0], lon=HOME[1])
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
    mod = await login(url, "moderator@example.org", PASSWORD)
    await decide(mod, rid, "validate")
    await mod.aclose()
    return (
        await login(url, "albertine@example.org", PASSWORD),
        await login(url, "supervisor@example.org", PASSWORD),
        await login(url, "admin@example.org", PASSWORD),
    )


def _rows_about(db: dict[str, list[dict[str, Any]]], uid: int) -> dict[str, list[dict[str, Any]]]:
    """What the store holds about the account, table by table, by its id."""
    return {
        "users": [r for r in db["users"] if r["id"] == uid],
        "sessions": [r for r in db["sessions"] if r["user_id"] == uid],
        "alerts": [r for r in db["alerts"] if r["author"] == uid],
        "flags": [r for r in db["flags"] if r["user_id"] == uid],
        "proofs": [r for r in db["proofs"] if r["user_id"] == uid],
        "proof_views": [r for r in db["proof_views"] if r["account"] == uid],
        "audit": [
            r for r in db["audit"] if r["actor"] == uid or (r["record_type"] == "account" and r["record_id"] == uid)
        ],
        "notify_settings": [r for r in db["notify_settings"] if r["user_id"] == uid],
        "push_subscriptions": [r for r in db["push_subscriptions"] if r["user_id"] == uid],
        "outbox": [r for r in db["outbox"] if r["user_id"] == uid],
    }


async def test_export_then_erasure(env: dict[str, str], server_factory: Any, tmp_path: Path) -> None:
    server = server_factory(env)
    me, chief, admin = await _joined_resident(server.url, env)
    mine = await me.post_alert(category="burglary", lat=CENTRE[0], lon=CENTRE[1], text=TEXT, client_id="c-1")
    assert mine.status_code == 201, mine.text
    other = Accounts(env).add("resident", "voisin@example.org", *CENTRE)
    neighbour = await login(server.url, "voisin@example.org", PASSWORD)
    theirs = (await neighbour.post_alert(category="vandalism", lat=CENTRE[0], lon=CENTRE[1])).json()
    assert (await me.http.post(f"/api/alerts/{theirs['id']}/flags", json={"reason": "faux"})).status_code == 201
    # out-of-band delivery: settings, a browser subscribed, and messages queued
    # to the e-mail and phone (no relay configured: they wait in the outbox)
    settings = {"channels": ["app", "email", "sms", "push"], "phone": PHONE}
    assert (await me.http.put("/api/me/notifications", json=settings)).status_code == 200
    sub = Subscriber("https://push.example.org/albertine").subscription()
    assert (await me.http.post("/api/me/push-subscriptions", json=sub)).status_code == 201
    sent = await chief.http.post("/api/broadcasts", json={"sectors": "all", "text": "Coupure d'eau", "level": "info"})
    assert sent.status_code == 201, sent.text
    stats_before = (await chief.http.get("/api/stats")).json()

    r = await me.http.get("/api/me/export")
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    export = r.json()
    db = await tables(env["DISPATCH_DATABASE_URL"])
    held = _rows_about(db, me.user_id)
    user = held["users"][0]
    account = export["account"]
    for key in ("id", "email", "name", "phone", "address", "role", "status"):
        assert account[key] == user[key]
    assert account["home"]["lat"] == user["home_lat"] and account["home"]["lon"] == user["home_lon"]
    assert [a["id"] for a in export["alerts"]] == [a["id"] for a in held["alerts"]]
    assert export["alerts"][0]["text"] == TEXT and export["alerts"][0]["lat"] == CENTRE[0]
    assert [f["id"] for f in export["flags"]] == [f["id"] for f in held["flags"]]
    assert [p["id"] for p in export["proofs"]] == [p["id"] for p in held["proofs"]]
    assert [p["size"] for p in export["proofs"]] == [p["size"] for p in held["proofs"]]
    assert len(export["sessions"]) == len(held["sessions"]) == 1
    assert len(export["proof_views"]) == len(held["proof_views"])
    # the export's own entry is written with it: it is the one the snapshot has more
    assert [e["id"] for e in export["audit"]] == [e["id"] for e in held["audit"]]
    assert {e["action"] for e in held["audit"]} >= {"account.create", "moderation.validate", "export"}
    assert "password_hash" not in str(export) and "token_hash" not in str(export)
    assert export["notifications"]["channels"] == settings["channels"] and len(held["notify_settings"]) == 1
    assert [p["endpoint"] for p in export["push_subscriptions"]] == [r["endpoint"] for r in held["push_subscriptions"]]
    assert sorted((m["channel"], m["dest"]) for m in export["messages"]) == sorted(
        (r["channel"], r["dest"]) for r in held["outbox"]
    )
    assert {m["channel"] for m in export["messages"]} >= {"email", "sms"}
    proof_file = tmp_path / "proofs" / held["proofs"][0]["file_name"]
    assert proof_file.exists()

    # the admin's export of the same account is the same data, and audited as the admin's
    r = await admin.http.get(f"/api/admin/residents/{me.user_id}/export")
    assert r.status_code == 200 and r.json()["account"] == account
    assert (await admin.http.get(f"/api/admin/residents/{other + 10**9}/export")).status_code == 404

    async with stream(server.ws_url, "/ws/resident", me.token) as ws:
        wrong = await me.http.request("DELETE", "/api/me", json={"password": "pas le bon mot de passe"})
        assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "wrong_password"
        assert (await me.http.request("DELETE", "/api/me", json={"password": PASSWORD, "x": 1})).status_code == 422
        gone = await me.http.request("DELETE", "/api/me", json={"password": PASSWORD})
        assert gone.status_code == 204, gone.text
        assert await closed_with(ws, 5) == 4003
    assert (await me.http.get("/api/me")).status_code == 401

    db = await tables(env["DISPATCH_DATABASE_URL"])
    needles = [NAME, "albertine@example.org", PHONE, ADDRESS, repr(HOME[0]), repr(HOME[1]), TEXT]
    needles.append(held["proofs"][0]["file_name"])
    assert holding(db, needles) == []
    assert not proof_file.exists()
    kept = next(a for a in db["alerts"] if a["id"] == mine.json()["id"])
    assert kept["author"] is None and kept["text"] == "" and kept["lat"] != CENTRE[0]
    assert (kept["sector"], kept["cell"], kept["category"]) == (mine.json()["sector"], mine.json()["cell"], "burglary")
    assert (await chief.http.get("/api/stats")).json()["counts"] == stats_before["counts"]
    assert _rows_about(db, me.user_id)["notify_settings"] == _rows_about(db, me.user_id)["push_subscriptions"] == []
    assert all(r["dest"] == "" and r["body"] == "" for r in _rows_about(db, me.user_id)["outbox"])
    erasures = [e for e in db["audit"] if e["action"] == "erasure"]
    assert [(e["actor"], e["record_id"]) for e in erasures] == [(me.user_id, me.user_id)]
    for c in (me, chief, admin, neighbour):
        await c.aclose()


async def test_admin_erases_on_request(env: dict[str, str], server_factory: Any) -> None:
    server = server_factory(env)
    me, chief, admin = await _joined_resident(server.url, env)
    assert (await me.post_alert(category="theft", lat=CENTRE[0], lon=CENTRE[1], text=TEXT)).status_code == 201
    assert (await chief.http.delete(f"/api/admin/residents/{me.user_id}")).status_code == 403
    staff_id = chief.user_id
    assert (await admin.http.delete(f"/api/admin/residents/{staff_id}")).status_code == 404  # residents only
    assert (await admin.http.delete(f"/api/admin/residents/{me.user_id}")).status_code == 204
    assert (await admin.http.delete(f"/api/admin/residents/{me.user_id}")).status_code == 404
    db = await tables(env["DISPATCH_DATABASE_URL"])
    assert holding(db, [NAME, "albertine@example.org", PHONE, ADDRESS, TEXT]) == []
    assert [(e["actor"], e["record_id"]) for e in db["audit"] if e["action"] == "erasure"] == [
        (admin.user_id, me.user_id)
    ]
    for c in (me, chief, admin):
        await c.aclose()
