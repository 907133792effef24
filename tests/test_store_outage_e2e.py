"""Issue 21: PostgreSQL goes away under a running server (2 workers, Redis,
residents and ops clients connected) and comes back.

While it is away every route that needs it answers 503 `unavailable` with a
Retry-After (never 500, never a hang), handshakes included; when it is back
the same server answers again by itself, an alert posted then reaches the
ops clients live, and nothing was stored twice or by halves: an alert
refused during the crash, posted again with its client_id, is stored once
with its event."""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import time
import uuid
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
import websockets

from tests.conftest import free_port
from tests.e2e import CENTRE, embedded_env, production_env, server_factory
from tests.listeners import Listener, settle, start_all
from tests.pg_server import PgServer
from tests.seed import Seeded, seed
from tests.test_fanout_e2e import CITY

# A request that needs the store answers within this while it is away
# (store_postgres: a refused connection fails at once; the connect and
# acquire timeouts bound a silent server at 5 and 10 s).
ANSWER_BOUND_S = 12.0
# The same server answers again within this once PostgreSQL accepts again.
RECOVERY_BOUND_S = 15.0


@pytest.fixture
def throwaway_pg():
    try:
        server = PgServer(free_port())
    except FileNotFoundError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("PostgreSQL 15's initdb is not installed")
    with server:
        yield server


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _alert(rng: random.Random) -> dict[str, Any]:
    lat, lon = CITY.random_point(rng)
    return {"category": "theft", "lat": lat, "lon": lon, "client_id": uuid.uuid4().hex}


def _unavailable(r: httpx.Response, what: str) -> None:
    assert r.status_code == 503, f"{what}: {r.status_code} {r.text}"
    assert r.json()["error"]["code"] == "unavailable", what
    assert int(r.headers["retry-after"]) > 0, what


async def _handshake_status(ws_url: str, token: str) -> int:
    try:
        async with websockets.connect(ws_url, additional_headers=_h(token), open_timeout=ANSWER_BOUND_S):
            return 101
    except websockets.InvalidStatus as exc:
        return exc.response.status_code


async def _sample_outage(
    http: httpx.AsyncClient, urls: list[str], staff: dict[str, Seeded], fresh: list[Seeded]
) -> None:
    """Every sampled route on every worker: 503 unavailable, within the bound.
    `fresh`: tokens no worker has cached yet (a cached session is served
    without the store: GET /api/me would rightly answer)."""
    disp, sup = staff["dispatcher"].token, staff["supervisor"].token
    rng = random.Random(9)
    for k, url in enumerate(urls):
        t0 = time.monotonic()
        me = fresh[k]
        login = {"email": "nobody@example.invalid", "password": "correct horse battery staple"}
        _unavailable(await http.post(url + "/api/auth/login", json=login), "login")
        _unavailable(await http.post(url + "/api/alerts", json=_alert(rng), headers=_h(me.token)), "POST alerts")
        _unavailable(await http.get(url + "/api/alerts", headers=_h(disp)), "GET alerts")
        _unavailable(
            await http.patch(url + "/api/alerts/1", json={"status": "acknowledged"}, headers=_h(disp)), "PATCH"
        )
        target = {"sectors": "all", "text": "Coupure", "level": "info"}
        _unavailable(await http.post(url + "/api/broadcasts", json=target, headers=_h(sup)), "POST broadcasts")
        _unavailable(await http.get(url + "/api/me", headers=_h(fresh[k + 2].token)), "GET me")
        r = await http.get(url + "/healthz")
        assert r.status_code == 503 and r.json()["status"] == "unavailable", r.text
        ws = url.replace("http", "ws", 1)
        assert await _handshake_status(ws + "/ws/resident", fresh[k + 4].token) == 503
        # a session the worker has cached, asking to replay: the replay needs the store
        assert await _handshake_status(ws + "/ws/ops?since=1", disp) == 503
        assert time.monotonic() - t0 < 9 * ANSWER_BOUND_S


async def _until_answering(http: httpx.AsyncClient, urls: list[str], token: str, rng: random.Random) -> float:
    """Seconds until an alert is accepted on every worker (several tries
    each: uvicorn hands a request to either worker)."""
    t0 = time.monotonic()
    ok = 0
    while ok < 3 * len(urls):
        assert time.monotonic() - t0 < RECOVERY_BOUND_S, "the server did not recover by itself"
        r = await http.post(urls[ok % len(urls)] + "/api/alerts", json=_alert(rng), headers=_h(token))
        assert r.status_code in (201, 503), r.text
        if r.status_code == 201:
            ok += 1
        else:
            await asyncio.sleep(0.1)
    return time.monotonic() - t0


async def _stored(pg_url: str) -> tuple[list[tuple[int, str | None]], list[int]]:
    """(alert id, client_id) of every stored alert; the alert id of every alert.created event."""
    con = await asyncpg.connect(pg_url)
    try:
        alerts = [(r["id"], r["client_id"]) for r in await con.fetch("SELECT id, client_id FROM alerts ORDER BY id")]
        events = await con.fetch("SELECT data FROM events WHERE type = 'alert.created' ORDER BY seq")
    finally:
        await con.close()
    return alerts, [orjson.loads(e["data"])["id"] for e in events]


@pytest.mark.slow
async def test_postgres_restart_answers_503_and_recovers(throwaway_pg, redis_url, bus_prefix, server_factory) -> None:
    pg = throwaway_pg
    rng = random.Random(21)
    residents, staff_list = await seed(
        pg.url, CITY, [CITY.random_point(rng) for _ in range(30)], staff=["dispatcher", "supervisor"]
    )
    staff = {s.role: s for s in staff_list}
    author, listening, fresh = residents[0], residents[1:20], residents[20:]
    server = server_factory(production_env(pg.url, redis_url, bus_prefix), workers=2)
    urls = [server.url] * 3  # both workers share the port: several rounds reach both
    ops = [Listener(server.ws_url, "/ws/ops", staff["dispatcher"].token) for _ in range(4)]
    people = [Listener(server.ws_url, "/ws/resident", r.token) for r in listening]
    await start_all([*ops, *people])

    async with httpx.AsyncClient(timeout=ANSWER_BOUND_S + 5) as http:
        before = []
        for _ in range(20):
            r = await http.post(server.url + "/api/alerts", json=_alert(rng), headers=_h(author.token))
            assert r.status_code == 201, r.text
            before.append(r.json())

        # a burst in flight while PostgreSQL is killed: each is 201 or 503, never 500
        burst = [_alert(rng) for _ in range(40)]

        async def post(body: dict[str, Any]) -> httpx.Response:
            return await http.post(server.url + "/api/alerts", json=body, headers=_h(author.token))

        tasks = [asyncio.create_task(post(b)) for b in burst]
        await asyncio.sleep(0.02)
        pg.crash()
        answers = await asyncio.gather(*tasks)
        assert {a.status_code for a in answers} <= {201, 503}, [a.text for a in answers if a.status_code >= 500]
        for a in answers:
            if a.status_code == 503:
                _unavailable(a, "POST alerts during the crash")

        await _sample_outage(http, urls, staff, fresh)
        await asyncio.sleep(1.5)  # the background loops run into the outage (head polls, outbox, escalation)

        pg.start()
        recovered = await _until_answering(http, urls, author.token, rng)
        print(f"answering again {recovered:.2f} s after PostgreSQL accepted connections")

        # refused ones again, same client_id: each is stored once (201 if the crash
        # lost it whole, 200 if its commit made it before the connection dropped)
        for body, a in zip(burst, answers):
            if a.status_code == 503:
                r = await post(body)
                assert r.status_code in (200, 201), r.text
        after = []
        for _ in range(10):
            r = await http.post(server.url + "/api/alerts", json=_alert(rng), headers=_h(author.token))
            assert r.status_code == 201, r.text
            after.append(r.json())

    await settle([*ops, *people], quiet=2.0, timeout=60)
    alerts, created = await _stored(pg.url)
    ids = [a for a, _ in alerts]
    client_ids = [c for _, c in alerts]
    assert len(client_ids) == len(set(client_ids)), "an alert was stored twice"
    assert sorted(created) == ids, "an alert without its event, or an event without its alert"
    sent = {b["client_id"] for b in burst} | {a["client_id"] for a in [*before, *after]}
    assert sent <= set(client_ids)
    for o in ops:  # every stored alert reached every ops client once, the refused ones included
        got = [i for _, i in o.received("alert.created")]
        assert sorted(got) == ids, f"missing {set(ids) - set(got)}, duplicates {len(got) - len(set(got))}"
    assert all(x.closes == [] for x in [*ops, *people]), "a socket was closed by the outage"
    await asyncio.gather(*(x.stop() for x in [*ops, *people]))
    assert "unhandled error" not in server.log_text(), server.log_text()  # no 500 anywhere


async def test_sqlite_lock_past_busy_timeout_answers_503(tmp_path, server_factory) -> None:
    """Another process holds SQLite's write lock past busy_timeout (10 s): the
    write is refused with 503, nothing of it is stored, and the next one
    after the lock is released goes through."""
    env = embedded_env(tmp_path)
    path = env["DISPATCH_DATABASE_URL"].removeprefix("sqlite:///")
    (author,), _ = await seed(env["DISPATCH_DATABASE_URL"], CITY, [CENTRE])
    server = server_factory(env)
    rng = random.Random(3)
    body = _alert(rng)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        async with httpx.AsyncClient(base_url=server.url, timeout=30, headers=_h(author.token)) as http:
            t0 = time.monotonic()
            r = await http.post("/api/alerts", json=body)
            waited = time.monotonic() - t0
            _unavailable(r, "POST alerts behind a held lock")
            assert waited < ANSWER_BOUND_S
            holder.execute("ROLLBACK")
            r = await http.post("/api/alerts", json=body)
            assert r.status_code == 201, r.text  # 201, not 200: the refused one left nothing behind
    finally:
        holder.close()


@pytest.mark.slow
async def test_a_server_started_while_postgres_is_down_waits_for_it(
    throwaway_pg, redis_url, bus_prefix, server_factory
) -> None:
    """A worker (re)started during an outage (uvicorn respawning a killed
    one, systemd restarting the service) must wait for the store, not fail
    its start-up: uvicorn would stop every worker, systemd would give up."""
    pg = throwaway_pg
    pg.crash()
    env = production_env(pg.url, redis_url, bus_prefix)
    starting = asyncio.create_task(asyncio.to_thread(server_factory, env))
    await asyncio.sleep(4)  # the server tries, and keeps trying, while PostgreSQL is down
    assert not starting.done(), "the server gave up (or answered) without its store"
    pg.start()
    server = await asyncio.wait_for(starting, 30)
    r = httpx.get(server.url + "/healthz", timeout=5)
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert "store not reachable at start" in server.log_text()
