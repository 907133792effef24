"""GET /metrics counts what happened (issue 21): a real server, on one
worker (embedded) and on two (PostgreSQL + Redis, every worker summed by
prometheus_client's multiprocess mode), real sockets; the counters must
equal what the test did. Then who may scrape, and what /healthz tells whom."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest

from tests.e2e import CENTRE, embedded_env, production_env, server_factory
from tests.listeners import Listener, settle, start_all
from tests.metrics_kit import Samples, scrape, total
from tests.seed import seed
from tests.test_fanout_e2e import CITY
from tests.test_faults_e2e import _raw_resident

TOKEN = "scraper-token-0123456789"
N_ALERTS, M_RESIDENTS, K_OPS, E_MAIL, P_404, Q_422 = 7, 5, 3, 4, 3, 2


async def until_scraped(
    http: httpx.AsyncClient, url: str, check: Callable[[Samples], bool], timeout: float = 20.0
) -> Samples:
    """Scrape until `check` holds (the sockets and the workers settle), else fail with the last scrape."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        samples = await scrape(http, url)
        if check(samples) or asyncio.get_running_loop().time() > deadline:
            return samples
        await asyncio.sleep(0.3)


async def scenario(server, db_url: str, workers: int) -> None:
    homes = [(CENTRE[0] + 0.0004 * k, CENTRE[1]) for k in range(M_RESIDENTS)]
    residents, staff = await seed(db_url, CITY, homes, staff=["dispatcher"] * (K_OPS + 1))
    poster, ops_tokens = staff[0], staff[1:]
    auth: Callable[[str], dict[str, str]] = lambda t: {"Authorization": f"Bearer {t}"}  # noqa: E731
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        before = await scrape(http, server.url)
        assert total(before, "dispatch_connected_clients") == 0
        for r in residents[:E_MAIL]:  # e-mail on: no mail relay is set, so the rows wait in the outbox
            put = await http.put("/api/me/notifications", json={"channels": ["app", "email"]}, headers=auth(r.token))
            assert put.status_code == 200, put.text
        listeners = [Listener(server.ws_url, "/ws/resident", r.token) for r in residents]
        ops = [Listener(server.ws_url, "/ws/ops", s.token) for s in ops_tokens]
        await start_all([*listeners, *ops])
        for i in range(N_ALERTS):
            body = {"category": "theft", "lat": CENTRE[0] + 0.0003 * i, "lon": CENTRE[1], "text": f"vélo {i}"}
            r = await http.post("/api/alerts", json=body, headers=auth(residents[i % M_RESIDENTS].token))
            assert r.status_code == 201, r.text
        b = await http.post(
            "/api/broadcasts",
            json={"sectors": ["centre"], "text": "Exercice", "level": "info"},
            headers=auth(poster.token),
        )
        assert b.status_code == 201, b.text
        for _ in range(P_404):
            assert (await http.get("/api/alerts/999999", headers=auth(poster.token))).status_code == 404
        for _ in range(Q_422):
            bad = await http.post(
                "/api/alerts", json={"category": "nope", "lat": 1, "lon": 2}, headers=auth(residents[0].token)
            )
            assert bad.status_code == 422
        await settle([*listeners, *ops], quiet=1.0)

        def frames(group: list[Listener]) -> int:
            return sum(len(x.messages) for x in group)

        def settled(s: Samples) -> bool:
            return total(s, "dispatch_frames_delivered_total", kind="ops") == frames(ops) and total(
                s, "dispatch_frames_delivered_total", kind="resident"
            ) == frames(listeners)

        s = await until_scraped(http, server.url, settled)
        assert total(s, "dispatch_connected_clients", kind="ops") == K_OPS
        assert total(s, "dispatch_connected_clients", kind="resident") == M_RESIDENTS
        assert total(s, "dispatch_events_published_total", type="alert.created") == N_ALERTS
        assert total(s, "dispatch_events_published_total", type="broadcast.sent") == 1
        assert all(len([m for m in o.messages if m["type"] == "alert.created"]) == N_ALERTS for o in ops)
        assert total(s, "dispatch_frames_delivered_total", kind="ops") == frames(ops)
        assert total(s, "dispatch_frames_delivered_total", kind="resident") == frames(listeners)
        # each worker observes an event once per audience it wrote it to
        for kind, group in (("ops", ops), ("resident", listeners)):
            count = total(s, "dispatch_delivery_latency_seconds_count", kind=kind)
            distinct = len({m["seq"] for x in group for m in x.messages})
            assert distinct <= count <= distinct * workers
            assert total(s, "dispatch_delivery_latency_seconds_bucket", kind=kind, le="+Inf") == count
        http_total = "dispatch_http_requests_total"
        assert total(s, http_total, route="/api/alerts", method="POST", status=201) == N_ALERTS
        assert total(s, http_total, route="/api/alerts", method="POST", status=422) == Q_422
        assert total(s, http_total, route="/api/alerts/{alert_id}", method="GET", status=404) == P_404
        assert total(s, http_total, route="/api/broadcasts", method="POST", status=201) == 1
        assert total(s, http_total, route="/api/me/notifications", method="PUT", status=200) == E_MAIL
        assert not [lab for n, lab, _ in s if n == http_total and "999999" in lab["route"]]
        assert total(s, "dispatch_outbox_depth", channel="email") == E_MAIL
        assert total(s, "dispatch_outbox_depth", channel="sms") == 0
        assert total(s, "dispatch_store_errors_total") == 0 and total(s, "dispatch_bus_errors_total") == 0
        assert total(s, "dispatch_slow_client_closes_total") == 0

        # a resident that stops reading is closed past its send bound, and counted once
        slow = await asyncio.to_thread(_raw_resident, server.port, residents[0].token)
        s = await until_scraped(
            http, server.url, lambda s: total(s, "dispatch_connected_clients", kind="resident") == M_RESIDENTS + 1
        )
        assert total(s, "dispatch_connected_clients", kind="resident") == M_RESIDENTS + 1
        text = "Coupure d'eau prévue. " * 45
        for i in range(600):
            body = {"sectors": ["centre"], "text": text[:990], "level": "info"}
            assert (await http.post("/api/broadcasts", json=body, headers=auth(poster.token))).status_code == 201
            if i % 25 == 24 and total(await scrape(http, server.url), "dispatch_slow_client_closes_total") >= 1:
                break
        s = await until_scraped(
            http, server.url, lambda s: total(s, "dispatch_connected_clients", kind="resident") == M_RESIDENTS
        )
        assert total(s, "dispatch_slow_client_closes_total", kind="resident") == 1
        assert total(s, "dispatch_slow_client_closes_total", kind="ops") == 0
        assert total(s, "dispatch_connected_clients", kind="resident") == M_RESIDENTS
        slow.close()
        await asyncio.gather(*(x.stop() for x in [*listeners, *ops]))
        s = await until_scraped(http, server.url, lambda s: total(s, "dispatch_connected_clients") == 0)
        assert total(s, "dispatch_connected_clients") == 0


SLOW = {"DISPATCH_STREAM_SEND_QUEUE_BYTES": "65536", "DISPATCH_METRICS_TOKEN": TOKEN}


async def test_metrics_count_what_happened_on_one_worker(tmp_path, server_factory) -> None:
    env = {**embedded_env(tmp_path), **SLOW}
    await scenario(server_factory(env), env["DISPATCH_DATABASE_URL"], workers=1)


async def test_metrics_count_what_happened_on_two_workers(pg_url, redis_url, bus_prefix, server_factory) -> None:
    env = {**production_env(pg_url, redis_url, bus_prefix), **SLOW}
    await scenario(server_factory(env, workers=2), pg_url, workers=2)


async def test_who_may_scrape_and_what_healthz_tells_whom(tmp_path, server_factory) -> None:
    env = {**embedded_env(tmp_path), "DISPATCH_METRICS_TOKEN": TOKEN}
    server = server_factory(env)
    (resident,), (dispatcher,) = await seed(env["DISPATCH_DATABASE_URL"], CITY, [CENTRE], staff=["dispatcher"])
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        assert (await http.get("/metrics")).status_code == 200  # this machine
        # behind a proxy every request comes from loopback: a forwarded one is not this machine's
        for proxied in (
            {"X-Forwarded-For": "203.0.113.9"},
            {"Forwarded": "for=203.0.113.9"},
            {"X-Real-IP": "203.0.113.9"},
        ):
            r = await http.get("/metrics", headers=proxied)
            assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
            wrong = await http.get("/metrics", headers={**proxied, "Authorization": f"Bearer {TOKEN}x"})
            assert wrong.status_code == 403
            session = await http.get("/metrics", headers={**proxied, "Authorization": f"Bearer {dispatcher.token}"})
            assert session.status_code == 403  # a session is not the scraper's token
            right = await http.get("/metrics", headers={**proxied, "Authorization": f"Bearer {TOKEN}"})
            assert right.status_code == 200 and "dispatch_http_requests_total" in right.text
        anonymous = await http.get("/healthz")
        assert anonymous.status_code == 200 and anonymous.json() == {"status": "ok"}
        as_resident = await http.get("/healthz", headers={"Authorization": f"Bearer {resident.token}"})
        assert as_resident.json() == {"status": "ok"}
        for who in (dispatcher.token, TOKEN):
            body = (await http.get("/healthz", headers={"Authorization": f"Bearer {who}"})).json()
            assert body["status"] == "ok" and body["store"] == "sqlite" and body["bus"] == "memory"
            assert isinstance(body["seq"], int) and body["connections"] == 0
        me = (await http.get("/api/me", headers={"Authorization": f"Bearer {resident.token}"})).json()
        assert isinstance(me["seq"], int)  # where the resident page resumes its stream from


async def test_without_a_token_metrics_are_for_this_machine_alone(tmp_path, server_factory) -> None:
    server = server_factory(embedded_env(tmp_path))  # metrics.token empty, as shipped
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        assert (await http.get("/metrics")).status_code == 200
        forwarded = {"X-Forwarded-For": "203.0.113.9"}
        for auth in ("Bearer", "Bearer x"):  # an empty token matches nothing
            assert (await http.get("/metrics", headers={**forwarded, "Authorization": auth})).status_code == 403
            assert (await http.get("/healthz", headers={"Authorization": auth})).json() == {"status": "ok"}
