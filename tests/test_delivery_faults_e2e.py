"""Issue 19 acceptance under faults, against real servers and stand-ins
(tests/notify_standins.py): the server killed with SIGKILL in the middle of
a delivery and restarted on the same database, and two workers on
PostgreSQL + Redis sending from one outbox.

What "no one gets the same message twice" means here: the stand-ins record
every request on arrival, before they answer, so a request the server sent
just before it was killed is recorded even though its answer was lost, and
the row it came from is sent again, with the same SMS `id` / Message-ID,
once its lease expires. A real gateway sends one SMS per `id` (and a
mailbox keeps one message per Message-ID): the tests count distinct keys per
recipient (exactly one each, for everyone), and check that a key arrived
twice only for a request that was in flight when the server died."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from pathlib import Path

import httpx

from bench.seed import seed_notify
from geo import load_city
from tests.e2e import CENTRE, production_env, server_factory
from tests.notify_standins import GatewayStandIn, SmtpStandIn
from tests.seed import seed
from tests.test_delivery_e2e import notify_env, standins, until

CITY = load_city(Path(__file__).resolve().parents[1] / "geo" / "cities" / "narbonne.geojson")
BATCH = 10  # rows one worker has in flight at most, per channel


def homes(n: int) -> list[tuple[float, float, str | None]]:
    return [(CENTRE[0] + 0.0001 * (i % 30), CENTRE[1] + 0.0001 * (i // 30), "centre") for i in range(n)]


def sms_keys(gateway: GatewayStandIn, upto: int | None = None) -> list[tuple[str, str]]:
    """(recipient, id) of every SMS request received (the first `upto`)."""
    return [(s["to"], s["id"]) for s in gateway.received[:upto]]


def email_keys(smtp: SmtpStandIn, upto: int | None = None) -> list[tuple[str, str]]:
    return [(str(m["To"]), str(m["Message-ID"])) for m in smtp.messages[:upto]]


def check_once_each(keys: list[tuple[str, str]], before_kill: int, recipients: set[str]) -> int:
    """Every recipient got exactly one message (distinct key), and a key
    arrived twice only when its first copy came before the kill. Returns how
    many keys repeated."""
    by_recipient: dict[str, set[str]] = {}
    for to, key in keys:
        by_recipient.setdefault(to, set()).add(key)
    assert set(by_recipient) == recipients
    assert all(len(k) == 1 for k in by_recipient.values()), [r for r, k in by_recipient.items() if len(k) > 1]
    counts = Counter(key for _, key in keys)
    early = {key for _, key in keys[:before_kill]}
    repeated = {key for key, n in counts.items() if n > 1}
    assert repeated <= early, repeated - early  # no repeat of a message first sent after the restart
    assert all(n <= 2 for n in counts.values())  # one kill: at most one repeat
    after = Counter(key for _, key in keys[before_kill:])
    assert set(after.values()) <= {1}  # the restarted server sent each row once
    return len(repeated)


async def test_kill_9_mid_delivery_then_restart_delivers_each_message_once(tmp_path, server_factory, standins) -> None:
    smtp, gateway, _push = standins
    smtp.delay_s = gateway.delay_s = 0.3  # each answer slow: the delivery is in progress when the kill comes
    env = notify_env(
        tmp_path,
        smtp,
        gateway,
        DISPATCH_NOTIFY_BATCH=str(BATCH),
        DISPATCH_NOTIFY_CONCURRENCY="5",
        DISPATCH_NOTIFY_LEASE_S="4",
        DISPATCH_NOTIFY_RETRY_BASE_S="0.5",
        DISPATCH_NOTIFY_RETRY_CAP_S="2",
    )
    server = server_factory(env)
    n = 100
    people = await seed_notify(env["DISPATCH_DATABASE_URL"], homes(n), secrets.token_hex(3), ["app", "email", "sms"])
    _, (disp,) = await seed(env["DISPATCH_DATABASE_URL"], CITY, [], staff=["dispatcher"])
    async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {disp.token}"}) as http:
        r = await http.post("/api/broadcasts", json={"sectors": ["centre"], "level": "urgent", "text": "Évacuez"})
        assert r.status_code == 201, r.text
        bid = r.json()["id"]
    await until(lambda: len(gateway.received) >= 15 and len(smtp.messages) >= 15, 30, "the delivery under way")
    server.kill()  # SIGKILL to the process group, mid-batch
    sms_before, email_before = len(gateway.received), len(smtp.messages)
    assert sms_before < n and email_before < n, "the delivery was over before the kill"
    again = server_factory(env)  # the same database
    phones, emails = {p for _, _, p in people}, {e for _, e, _ in people}
    await until(lambda: {to for to, _ in sms_keys(gateway)} == phones, 60, "every SMS after the restart")
    await until(lambda: {to for to, _ in email_keys(smtp)} == emails, 60, "every e-mail after the restart")
    await asyncio.sleep(3)  # past a lease (4 s) and a retry: anything more would be a duplicate
    repeated_sms = check_once_each(sms_keys(gateway), sms_before, phones)
    repeated_email = check_once_each(email_keys(smtp), email_before, emails)
    # only what one worker had in flight can repeat: a batch per channel
    assert repeated_sms <= BATCH and repeated_email <= BATCH
    async with httpx.AsyncClient(base_url=again.url, headers={"Authorization": f"Bearer {disp.token}"}) as http:
        receipts = (await http.get(f"/api/broadcasts/{bid}/receipts")).json()
    assert receipts["sms"] == {"queued": 0, "sent": n, "delivered": 0, "failed": 0}
    assert receipts["email"] == {"queued": 0, "sent": n, "failed": 0}


async def test_two_workers_on_postgres_and_redis_send_each_message_once(
    tmp_path, server_factory, standins, pg_url, redis_url, bus_prefix
) -> None:
    smtp, gateway, push = standins
    smtp.delay_s = gateway.delay_s = 0.2  # slow enough that both workers' batches overlap
    env = {
        **notify_env(tmp_path, smtp, gateway, DISPATCH_NOTIFY_BATCH=str(BATCH), DISPATCH_NOTIFY_CONCURRENCY="5"),
        **production_env(pg_url, redis_url, bus_prefix),
    }
    server = server_factory(env, workers=2)
    n = 80
    subs = [push.subscriber(f"r{i}").subscription() for i in range(n)]
    people = await seed_notify(
        pg_url,
        homes(n),
        secrets.token_hex(3),
        ["app", "email", "sms", "push"],
        [(s["endpoint"], s["keys"]["p256dh"], s["keys"]["auth"]) for s in subs],
    )
    _, (disp,) = await seed(pg_url, CITY, [], staff=["dispatcher"])
    async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {disp.token}"}) as http:
        r = await http.post(
            "/api/broadcasts", json={"sectors": ["centre"], "level": "warning", "text": "Coupure d'eau"}
        )
        assert r.status_code == 201, r.text
        bid = r.json()["id"]
        done = lambda: len(gateway.received) >= n and len(smtp.messages) >= n and len(push.received) >= n  # noqa: E731
        await until(done, 60, "every message")
        await asyncio.sleep(2)  # anything more would be a duplicate
        receipts = (await http.get(f"/api/broadcasts/{bid}/receipts")).json()
    sms = Counter(sms_keys(gateway))
    assert set(sms.values()) == {1} and {to for to, _ in sms} == {p for _, _, p in people}
    email = Counter(email_keys(smtp))
    assert set(email.values()) == {1} and {to for to, _ in email} == {e for _, e, _ in people}
    assert push.errors == []
    assert sorted(p for p, _ in push.received) == sorted(f"/push/r{i}" for i in range(n))
    # both workers sent: more requests at once than one worker's notify.concurrency
    assert gateway.inflight.most > 5 and smtp.inflight.most > 5, (gateway.inflight.most, smtp.inflight.most)
    assert receipts["sms"] == {"queued": 0, "sent": n, "delivered": 0, "failed": 0}
    assert receipts["email"] == {"queued": 0, "sent": n, "failed": 0}
    assert receipts["push"] == {"queued": 0, "sent": n, "failed": 0}
