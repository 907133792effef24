"""Issue 20, retention: `dispatch purge --now` past each period, on both
stores, against data of every kind made through a real server and then aged
in the database (each kind has a row just past its period, one just inside
it, and newer ones). The run as of N removes or coarsens exactly the rows
past their period; a run two minutes later takes the rows that were just
inside; a third run as of the same instant finds nothing. The database rows
are read directly after each run, GET /api/stats answers the same before and
after, and every run is recorded (purge_runs and an audit entry "purge")."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import h3
import httpx
import orjson
import pytest

from dispatch.core.retention import PURGE_KINDS
from dispatch.usecases.sessions import token_hash
from tests.e2e import PASSWORD, Accounts, embedded_env, production_env, server_factory
from tests.joining_kit import decide, join
from tests.privacy_kit import execute, holding, tables
from tests.support import Client, dispatch_cli, drain, login, stream

__all__ = ["server_factory"]

# the shipped defaults (config.toml [retention]), which these tests age past
ALERT_DAYS, PROOF_DAYS, ACCOUNT_DAYS, SESSION_DAYS, AUDIT_DAYS = 90, 30, 30, 30, 365
JUST = timedelta(minutes=1)  # how far past (or short of) its period a row is aged
# points kilometres apart, in different sectors, so each alert has its own incident
POINTS = {
    "old": (43.1837, 3.0042),
    "edge": (43.21, 2.97),
    "new": (43.16, 2.97),
    "open": (43.19, 3.06),
}
NOTE = "Le voisin du 3 dit avoir vu M. Untel"
CATEGORY = {"old": "burglary", "edge": "fire", "new": "ecology", "open": "rodeo"}


@pytest.fixture(params=["sqlite", "postgres"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    if request.param == "sqlite":
        out = embedded_env(tmp_path)
    else:
        pg = request.getfixturevalue("pg_url")
        out = production_env(pg, request.getfixturevalue("redis_url"), request.getfixturevalue("bus_prefix"))
    out["DISPATCH_PROOFS_DIR"] = str(tmp_path / "proofs")
    return out


def text_of(kind: str) -> str:
    return f"Texte libre de l'alerte {kind}, à ne pas garder"


def purge(env: dict[str, str], now: datetime) -> dict[str, int]:
    """The real CLI; its printed counts per kind."""
    out = dispatch_cli("purge", "--now", now.isoformat(), env=env)
    counts = dict(line.split("\t") for line in out.stdout.strip().splitlines())
    assert list(counts) == list(PURGE_KINDS), out.stdout
    return {k: int(v) for k, v in counts.items()}


def expect(**counts: int) -> dict[str, int]:
    return {kind: counts.get(kind, 0) for kind in PURGE_KINDS}


async def _alerts(author: Client, chief: Client) -> dict[str, dict[str, Any]]:
    """One alert of each kind, each in its own incident; all but "open" closed."""
    out = {}
    for kind, (lat, lon) in POINTS.items():
        r = await author.post_alert(
            category=CATEGORY[kind], lat=lat, lon=lon, text=text_of(kind), client_id=f"client-{kind}"
        )
        assert r.status_code == 201, r.text
        out[kind] = r.json()
    assert len({a["incident"] for a in out.values()}) == len(out), "each alert its own incident"
    for kind, alert in out.items():
        body = {"status": "resolved", "note": NOTE} if kind != "open" else {"note": NOTE}
        r = await chief.http.patch(f"/api/incidents/{alert['incident']}", json=body)
        assert r.status_code == 200, r.text
    return out


async def _joined(url: str, mod: Client, who: str, decision: str) -> int:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        r = await join(http, f"{who}@example.org", name=f"Personne {who}", address=f"{len(who)} rue {who}")
        assert r.status_code == 201, r.text
    account = int(r.json()["id"])
    await decide(mod, account, decision, "justificatif illisible" if decision == "reject" else None)
    return account


async def _age(url: str, n: datetime, ids: dict[str, Any]) -> None:
    """Move each aged row's clock back: "old" rows JUST past their period as
    of `n`, "edge" rows JUST short of it."""
    for kind, shift in (("old", JUST), ("edge", -JUST)):
        closed = n - timedelta(days=ALERT_DAYS) - shift
        alert = ids["alerts"][kind]
        await execute(url, "UPDATE alerts SET created_at = ?, updated_at = ? WHERE id = ?", closed, closed, alert["id"])
        await execute(url, "UPDATE incidents SET updated_at = ? WHERE id = ?", closed, alert["incident"])
        decided = n - timedelta(days=PROOF_DAYS) - shift
        await execute(url, "UPDATE proofs SET decided_at = ? WHERE user_id = ?", decided, ids["validated"][kind])
        rejected = n - timedelta(days=ACCOUNT_DAYS) - shift
        for table, column in (("users", "id"), ("proofs", "user_id")):
            sql = f"UPDATE {table} SET decided_at = ? WHERE {column} = ?"
            await execute(url, sql, rejected, ids["rejected"][kind])
        expired = n - timedelta(days=SESSION_DAYS) - shift
        await execute(url, "UPDATE sessions SET expires_at = ? WHERE token_hash = ?", expired, ids["sessions"][kind])
        at = n - timedelta(days=AUDIT_DAYS) - shift
        sql = "INSERT INTO audit (at, actor, action, record_type, record_id) VALUES (?, NULL, 'export', 'account', ?)"
        await execute(url, sql, at, ids["audit"][kind])
    # an open alert, however old, keeps everything: it is still being handled
    long_ago = n - timedelta(days=4 * ALERT_DAYS)
    alert = ids["alerts"]["open"]
    await execute(url, "UPDATE alerts SET created_at = ?, updated_at = ? WHERE id = ?", long_ago, long_ago, alert["id"])


def _row(db: dict[str, list[dict[str, Any]]], table: str, key: str, value: Any) -> dict[str, Any] | None:
    return next((r for r in db[table] if r[key] == value), None)


def _coarse(
    db: dict[str, list[dict[str, Any]]], before: dict[str, list[dict[str, Any]]], alert: dict[str, Any]
) -> None:
    """The alert keeps category, sector, cell and day; loses author, exact
    point, text, client id and notes. Its incident alike, and their events."""
    row, was = _row(db, "alerts", "id", alert["id"]), _row(before, "alerts", "id", alert["id"])
    assert row is not None and was is not None
    for key in ("category", "sector", "cell", "status", "created_at"):
        assert row[key] == was[key], key
    centre = h3.cell_to_latlng(row["cell"])
    assert (round(row["lat"], 5), round(row["lon"], 5)) == (round(centre[0], 5), round(centre[1], 5))
    assert (row["lat"], row["lon"]) != (was["lat"], was["lon"])
    assert (row["author"], row["text"], row["client_id"], json.loads(row["notes"])) == (None, "", None, [])
    assert row["coarsened_at"] is not None
    inc = _row(db, "incidents", "id", alert["incident"])
    assert inc is not None and inc["coarsened_at"] is not None
    authors = json.loads(inc["authors"])
    assert len(authors) == 1 and authors[0] < 0, "the witness count stays, not the id"
    data = [(e["type"], json.loads(e["data"])) for e in db["events"]]
    mine = [d for t, d in data if t.startswith("alert.") and d.get("id") == alert["id"]]
    assert mine and all(d.get("author") is None and not d.get("text") for d in mine)
    theirs = [d for t, d in data if t.startswith("incident.") and d.get("id") == alert["incident"]]
    assert theirs and all((d["lat"], d["lon"]) == (inc["lat"], inc["lon"]) for d in theirs)
    # the operators' free text goes too; the timeline stays
    history = [json.loads(h["entry"]) for h in db["incident_history"] if h["incident_id"] == alert["incident"]]
    was_history = [json.loads(h["entry"]) for h in before["incident_history"] if h["incident_id"] == alert["incident"]]
    assert NOTE in str(was_history) and NOTE not in str(history) and NOTE not in str(theirs)
    assert [(h["at"], h["action"]) for h in history] == [(h["at"], h["action"]) for h in was_history]


def _same(db: dict[str, list[dict[str, Any]]], before: dict[str, list[dict[str, Any]]], alert: dict[str, Any]) -> None:
    row, was = _row(db, "alerts", "id", alert["id"]), _row(before, "alerts", "id", alert["id"])
    assert row is not None and was is not None
    keys = ("author", "lat", "lon", "text", "client_id", "notes", "category", "sector", "cell", "created_at")
    assert {k: row[k] for k in keys} == {k: was[k] for k in keys}
    assert row["coarsened_at"] is None


async def _seed(url: str, env: dict[str, str], tmp: Path) -> tuple[dict[str, Any], list[Client]]:
    accounts = Accounts(env)
    accounts.add("resident", "auteur@example.org", *POINTS["old"], name="Auteur Témoin")
    for role in ("dispatcher", "moderator"):
        accounts.add(role, f"{role}@example.org")
    author = await login(url, "auteur@example.org", PASSWORD)
    chief = await login(url, "dispatcher@example.org", PASSWORD)
    mod = await login(url, "moderator@example.org", PASSWORD)
    ids: dict[str, Any] = {"alerts": await _alerts(author, chief), "validated": {}, "rejected": {}, "sessions": {}}
    for kind in ("old", "edge"):
        ids["validated"][kind] = await _joined(url, mod, f"valide-{kind}", "validate")
    for kind in ("old", "edge", "new"):
        ids["rejected"][kind] = await _joined(url, mod, f"refuse-{kind}", "reject")
    for kind in ("old", "edge"):
        ids["sessions"][kind] = token_hash((await login(url, "dispatcher@example.org", PASSWORD)).token)
    ids["audit"] = {"old": 10**9 + 1, "edge": 10**9 + 2}
    return ids, [author, chief, mod]


async def test_purge_past_each_period(env: dict[str, str], server_factory: Any, tmp_path: Path) -> None:
    server = server_factory(env)
    url = env["DISPATCH_DATABASE_URL"]
    ids, clients = await _seed(server.url, env, tmp_path)
    author, chief, mod = clients
    n = datetime.now(UTC).replace(microsecond=0)
    await _age(url, n, ids)
    stats_q = {"since": (n - timedelta(days=400)).isoformat(), "until": (n + timedelta(days=1)).isoformat()}
    stats = (await chief.http.get("/api/stats", params=stats_q)).json()
    assert stats["alerts"] == 4, stats
    before = await tables(url)
    files = {p["user_id"]: tmp_path / "proofs" / p["file_name"] for p in before["proofs"]}
    assert all(f.exists() for f in files.values()) and len(files) == 5
    live_sessions = {s["token_hash"] for s in before["sessions"]} - set(ids["sessions"].values())

    # as of N: what is just past its period goes, what is just short of it stays
    first = purge(env, n)
    assert first == expect(alerts_coarsened=1, incidents_coarsened=1, proofs=2, accounts=1, sessions=1, audit=1)
    db = await tables(url)
    _coarse(db, before, ids["alerts"]["old"])
    for kind in ("edge", "new", "open"):
        _same(db, before, ids["alerts"][kind])
    assert holding(db, [text_of("old")]) == []
    assert holding(db, [text_of("edge")]) != []
    gone_proofs = {ids["validated"]["old"], ids["rejected"]["old"]}
    assert {p["user_id"] for p in db["proofs"]} == set(files) - gone_proofs
    assert [not f.exists() for u, f in files.items()] == [u in gone_proofs for u in files]
    assert _row(db, "users", "id", ids["validated"]["old"]) is not None, "a validated account stays"
    assert _row(db, "users", "id", ids["rejected"]["old"]) is None
    assert holding(db, ["refuse-old@example.org", "Personne refuse-old", "rue refuse-old"]) == []
    assert _row(db, "users", "id", ids["rejected"]["edge"]) is not None
    hashes = {s["token_hash"] for s in db["sessions"]}
    assert ids["sessions"]["old"] not in hashes and ids["sessions"]["edge"] in hashes and live_sessions <= hashes
    audit_ids = {a["record_id"] for a in db["audit"]}
    assert ids["audit"]["old"] not in audit_ids and ids["audit"]["edge"] in audit_ids
    assert (await chief.http.get("/api/stats", params=stats_q)).json() == stats

    # two minutes later: the rows that were one minute short of their period go too
    later = n + 2 * JUST
    second = purge(env, later)
    assert second == expect(alerts_coarsened=1, incidents_coarsened=1, proofs=2, accounts=1, sessions=1, audit=1)
    db = await tables(url)
    _coarse(db, before, ids["alerts"]["edge"])
    for kind in ("new", "open"):
        _same(db, before, ids["alerts"][kind])
    assert holding(db, [text_of("old"), text_of("edge")]) == []
    assert holding(db, [text_of("new")]) != [] and holding(db, [text_of("open")]) != []
    assert {p["user_id"] for p in db["proofs"]} == {ids["rejected"]["new"]}
    assert _row(db, "users", "id", ids["rejected"]["edge"]) is None
    assert _row(db, "users", "id", ids["rejected"]["new"]) is not None
    assert {s["token_hash"] for s in db["sessions"]} == live_sessions
    assert ids["audit"]["edge"] not in {a["record_id"] for a in db["audit"]}
    # the entries of the real actions (now) are kept
    assert {"account.create", "moderation.reject"} <= {a["action"] for a in db["audit"]}

    # as of the same instant again: nothing more
    assert purge(env, later) == expect()
    again = await tables(url)
    for table in ("alerts", "incidents", "events", "proofs", "users", "sessions"):
        assert again[table] == db[table], table

    # each run recorded: its counts, and an audit entry by the system
    runs = sorted(again["purge_runs"], key=lambda r: r["id"])
    assert [json.loads(r["counts"]) for r in runs] == [first, second, expect()]
    entries = [a for a in again["audit"] if a["action"] == "purge"]
    assert [(a["actor"], a["record_type"], a["record_id"]) for a in entries] == [(None, "store", r["id"]) for r in runs]
    assert (await chief.http.get("/api/stats", params=stats_q)).json() == stats
    await _readers_cope(server, ids, clients)
    for c in clients:
        await c.aclose()


async def _readers_cope(server: Any, ids: dict[str, Any], clients: list[Client]) -> None:
    """Every reader of a coarsened alert answers (author null, no text)."""
    author, chief, mod = clients
    old = ids["alerts"]["old"]
    r = await chief.http.get(f"/api/alerts/{old['id']}")
    assert r.status_code == 200 and (r.json()["author"], r.json()["text"]) == (None, "")
    r = await chief.http.get(f"/api/incidents/{old['incident']}")
    assert r.status_code == 200, r.text
    assert all(a["author"] is None for a in r.json()["alert_details"])
    for client, path in ((chief, "/api/alerts"), (chief, "/api/incidents?status=all"), (mod, "/api/alerts")):
        assert (await client.http.get(path)).status_code == 200, path
    mine = (await author.http.get("/api/alerts")).json()
    assert old["id"] not in [a["id"] for a in mine if a.get("mine")], "no longer the author's"
    assert (await chief.http.get("/api/handover")).status_code == 200
    async with stream(server.ws_url, "/ws/ops", chief.token, since=0) as ws:
        replay = await drain(ws, 1.0)
        assert replay, "the ops replay answers"
        assert text_of("old") not in orjson.dumps(replay).decode()


async def test_serve_purges_on_its_own(env: dict[str, str], server_factory: Any) -> None:
    """serve runs the purge every retention.purge_every_hours (a fraction of
    an hour here: 1.8 s; its first pass waits the same when that is under a
    minute), as of its own clock: an expired session and an audit entry past
    its period go, with nobody running `dispatch purge`, and each pass is
    recorded."""
    url = env["DISPATCH_DATABASE_URL"]
    server = server_factory({**env, "DISPATCH_RETENTION_PURGE_EVERY_HOURS": "0.0005"})
    Accounts(env).add("dispatcher", "dispatcher@example.org")
    old = await login(server.url, "dispatcher@example.org", PASSWORD)
    live = await login(server.url, "dispatcher@example.org", PASSWORD)
    now = datetime.now(UTC)
    expired = now - timedelta(days=SESSION_DAYS + 1)
    await execute(url, "UPDATE sessions SET expires_at = ? WHERE token_hash = ?", expired, token_hash(old.token))
    sql = "INSERT INTO audit (at, actor, action, record_type, record_id) VALUES (?, NULL, 'export', 'account', ?)"
    await execute(url, sql, now - timedelta(days=AUDIT_DAYS + 1), 10**9 + 3)
    aged = len((await tables(url))["purge_runs"])  # passes already run, before the rows aged
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        db = await tables(url)
        if len(db["purge_runs"]) >= aged + 2 or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.5)
    runs = sorted(db["purge_runs"], key=lambda r: r["id"])
    assert len(runs) >= aged + 2, "serve ran the purge again, twice, on its own"
    totals = {k: sum(json.loads(r["counts"])[k] for r in runs) for k in PURGE_KINDS}
    assert (totals["sessions"], totals["audit"]) == (1, 1), totals
    assert {s["token_hash"] for s in db["sessions"]} == {token_hash(live.token)}
    assert 10**9 + 3 not in {a["record_id"] for a in db["audit"]}
    assert len([a for a in db["audit"] if a["action"] == "purge"]) >= 2
    assert (await live.http.get("/api/me")).status_code == 200, "the server kept serving"
    for c in (old, live):
        await c.aclose()
