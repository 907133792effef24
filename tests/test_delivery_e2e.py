"""Issue 19 acceptance, against a real server and real stand-ins
(tests/notify_standins.py): a broadcast to one sector reaches every opted-in
resident there exactly once per channel, nobody opted out and nobody
outside; an SMS gateway outage delays SMS and loses or doubles none; the
receipts equal what the stand-ins received."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterator
from email.header import decode_header, make_header
from typing import Any

import httpx
import pytest

from tests.browser import PLAGE
from tests.e2e import CENTRE, PASSWORD, Accounts, embedded_env, server_factory
from tests.notify_standins import GatewayStandIn, PushStandIn, SmtpStandIn, Subscriber
from tests.support import login


@pytest.fixture
def standins() -> Iterator[tuple[SmtpStandIn, GatewayStandIn, PushStandIn]]:
    smtp, gateway, push = SmtpStandIn(), GatewayStandIn(), PushStandIn()
    yield smtp, gateway, push
    smtp.stop()
    gateway.stop()
    push.stop()


def notify_env(tmp_path: Any, smtp: SmtpStandIn, gateway: GatewayStandIn, **extra: str) -> dict[str, str]:
    return {
        **embedded_env(tmp_path),
        "DISPATCH_NOTIFY_SMTP_HOST": "127.0.0.1",
        "DISPATCH_NOTIFY_SMTP_PORT": str(smtp.port),
        "DISPATCH_NOTIFY_SMS_URL": gateway.url + "/sms",
        "DISPATCH_NOTIFY_SMS_TOKEN": "gateway-token",
        "DISPATCH_NOTIFY_SMS_NUMBER": "+33600000000",
        "DISPATCH_NOTIFY_VAPID_KEY": str(tmp_path / "vapid.pem"),
        "DISPATCH_NOTIFY_POLL_S": "0.2",
        **extra,
    }


async def until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def opt_in(
    url: str, email: str, push: PushStandIn, channels: list[str], phone: str, categories: list[str] | None = None
) -> None:
    me = await login(url, email, PASSWORD)
    body: dict[str, Any] = {"channels": channels, "phone": phone}
    if categories is not None:
        body["categories"] = categories
    r = await me.http.put("/api/me/notifications", json=body)
    assert r.status_code == 200, r.text
    if "push" in channels:
        sub = push.subscriber(email.split("@")[0]).subscription()
        assert (await me.http.post("/api/me/push-subscriptions", json=sub)).status_code == 201
    await me.aclose()


async def test_a_sector_broadcast_reaches_each_opted_in_resident_once_per_channel(
    tmp_path, server_factory, standins
) -> None:
    smtp, gateway, push = standins
    env = notify_env(tmp_path, smtp, gateway)
    server = server_factory(env)
    accounts = Accounts(env)
    accounts.add("dispatcher", "disp@example.org")
    inside = [f"in{i}@example.org" for i in range(4)]
    for k, email in enumerate(inside):
        accounts.add("resident", email, CENTRE[0] + 0.001 * k, CENTRE[1])
    accounts.add("resident", "optout@example.org", *CENTRE)  # the defaults: app only
    accounts.add("resident", "outside@example.org", *PLAGE)
    for k, email in enumerate(inside):
        await opt_in(server.url, email, push, ["app", "email", "sms", "push"], f"+3361234560{k}")
    await opt_in(server.url, "outside@example.org", push, ["email", "sms", "push"], "+33612345699")
    disp = await login(server.url, "disp@example.org", PASSWORD)
    target = {"sectors": ["centre"], "level": "urgent"}
    preview = (await disp.http.post("/api/broadcasts/preview", json={**target, "text": "Crue : évacuez"})).json()
    assert preview["recipients"] == 5 and preview["sms"] == {"recipients": 4, "segments": 1}
    r = await disp.http.post("/api/broadcasts", json={**target, "text": "Crue : évacuez les quais"})
    assert r.status_code == 201, r.text
    bid = r.json()["id"]
    await until(lambda: len(smtp.messages) >= 4 and len(gateway.received) >= 4 and len(push.received) >= 4, 30, "sends")
    await asyncio.sleep(1.5)  # anything more would be a duplicate
    assert sorted(m["To"] for m in smtp.messages) == sorted(inside)
    assert len({m["Message-ID"] for m in smtp.messages}) == 4
    for m in smtp.messages:
        assert m["List-Unsubscribe"].startswith("<http")
        parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in m.walk() if not p.is_multipart()}
        assert "Crue : évacuez les quais" in parts["text/plain"] and "<p>" in parts["text/html"]
    assert sorted(s["to"] for s in gateway.received) == [f"+3361234560{k}" for k in range(4)]
    assert all(s["text"].endswith("STOP au +33600000000") for s in gateway.received)
    assert len({s["id"] for s in gateway.received}) == 4
    assert set(gateway.tokens) == {"Bearer gateway-token"}
    assert push.errors == []
    assert sorted(p for p, _ in push.received) == sorted(f"/push/in{k}" for k in range(4))
    assert all(d == {"level": "urgent", "text": "Crue : évacuez les quais", "id": bid} for _, d in push.received)
    receipts = (await disp.http.get(f"/api/broadcasts/{bid}/receipts")).json()
    assert receipts["email"] == {"queued": 0, "sent": 4, "failed": 0}
    assert receipts["sms"] == {"queued": 0, "sent": 4, "delivered": 0, "failed": 0}
    assert receipts["push"] == {"queued": 0, "sent": 4, "failed": 0}
    await disp.aclose()


async def test_an_sms_gateway_outage_delays_every_sms_and_doubles_none(tmp_path, server_factory, standins) -> None:
    smtp, gateway, push = standins
    # retries capped at 4 s: a 30 s outage is then retried every few seconds
    env = notify_env(tmp_path, smtp, gateway, DISPATCH_NOTIFY_RETRY_BASE_S="0.5", DISPATCH_NOTIFY_RETRY_CAP_S="4")
    server = server_factory(env)
    accounts = Accounts(env)
    accounts.add("dispatcher", "disp@example.org")
    emails = [f"r{i}@example.org" for i in range(6)]
    for k, email in enumerate(emails):
        accounts.add("resident", email, CENTRE[0] + 0.0005 * k, CENTRE[1])
        await opt_in(server.url, email, push, ["sms"], f"+3361111110{k}")
    gateway.down = True
    disp = await login(server.url, "disp@example.org", PASSWORD)
    r = await disp.http.post("/api/broadcasts", json={"sectors": ["centre"], "level": "warning", "text": "Coupure"})
    bid = r.json()["id"]
    await asyncio.sleep(30)
    assert gateway.received == []
    receipts = (await disp.http.get(f"/api/broadcasts/{bid}/receipts")).json()
    assert receipts["sms"]["queued"] == 6
    gateway.down = False
    await until(lambda: len(gateway.received) >= 6, 20, "every SMS after the outage")
    await asyncio.sleep(2)
    ids = Counter(s["id"] for s in gateway.received)
    assert len(ids) == 6 and set(ids.values()) == {1}
    # the gateway's delivery reports
    secretless = await httpx.AsyncClient(base_url=server.url).post(
        "/api/sms/status", json={"id": "x", "status": "failed"}
    )
    assert secretless.status_code == 403
    receipts = (await disp.http.get(f"/api/broadcasts/{bid}/receipts")).json()
    assert receipts["sms"] == {"queued": 0, "sent": 6, "delivered": 0, "failed": 0}
    await disp.aclose()


async def test_a_moderation_decision_goes_out_by_email(tmp_path, server_factory, standins) -> None:
    from tests.joining_kit import join

    smtp, gateway, _push = standins
    env = {**notify_env(tmp_path, smtp, gateway), "DISPATCH_PROOFS_DIR": str(tmp_path / "proofs")}
    server = server_factory(env)
    Accounts(env).add("moderator", "mod@example.org")
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        ok = (await join(http, "joiner@example.org")).json()["id"]
        no = (await join(http, "other@example.org")).json()["id"]
    mod = await login(server.url, "mod@example.org", PASSWORD)
    assert (await mod.http.post(f"/api/moderation/residents/{ok}", json={"decision": "validate"})).status_code == 200
    r = await mod.http.post(f"/api/moderation/residents/{no}", json={"decision": "reject", "reason": "justificatif"})
    assert r.status_code == 200
    await until(lambda: len(smtp.messages) >= 2, 20, "both decisions")
    by_to = {m["To"]: m for m in smtp.messages}
    subject = str(make_header(decode_header(by_to["joiner@example.org"]["Subject"])))
    assert "validé" in subject
    assert "justificatif" in by_to["other@example.org"].get_body(("plain",)).get_content()
    await mod.aclose()


async def test_a_nearby_alert_reaches_those_who_want_its_category_and_says_neither_who_nor_where(
    tmp_path, server_factory, standins
) -> None:
    smtp, gateway, push = standins
    env = notify_env(tmp_path, smtp, gateway)
    server = server_factory(env)
    accounts = Accounts(env)
    accounts.add("resident", "author@example.org", *CENTRE, name="Jeanne Autrice")
    accounts.add("resident", "near@example.org", 43.1817, 3.0042)  # 222 m away, in another sector
    accounts.add("resident", "sector@example.org", 43.1837, 2.9922)  # 973 m away, in the alert's sector
    accounts.add("resident", "theft@example.org", CENTRE[0] + 0.001, CENTRE[1])  # wants another category
    accounts.add("resident", "nocat@example.org", CENTRE[0] + 0.001, CENTRE[1])  # e-mail, but no category
    accounts.add("resident", "default@example.org", CENTRE[0] + 0.001, CENTRE[1])  # never opted in
    accounts.add("resident", "far@example.org", *PLAGE)  # wants fires, 11 km away
    everything = ["app", "email", "sms", "push"]
    await opt_in(server.url, "author@example.org", push, everything, "+33612000001", ["fire"])
    await opt_in(server.url, "near@example.org", push, everything, "+33612000002", ["fire", "theft"])
    await opt_in(server.url, "sector@example.org", push, ["app", "email"], "+33612000003", ["fire"])
    await opt_in(server.url, "theft@example.org", push, everything, "+33612000004", ["theft"])
    await opt_in(server.url, "nocat@example.org", push, ["email", "sms"], "+33612000005")
    await opt_in(server.url, "far@example.org", push, everything, "+33612000006", ["fire"])
    author = await login(server.url, "author@example.org", PASSWORD)
    r = await author.post_alert(category="fire", lat=CENTRE[0], lon=CENTRE[1], text="Feu rue Droite chez M. Martin")
    assert r.status_code == 201, r.text
    alert_id = r.json()["id"]
    await until(lambda: len(smtp.messages) >= 2 and gateway.received and push.received, 20, "the alert's messages")
    await asyncio.sleep(1.5)  # anything more would be a message too many
    assert sorted(m["To"] for m in smtp.messages) == ["near@example.org", "sector@example.org"]
    assert [s["to"] for s in gateway.received] == ["+33612000002"]
    assert push.errors == [] and [p for p, _ in push.received] == ["/push/near"]
    texts = [m.get_body(("plain",)).get_content() for m in smtp.messages]
    texts += [str(make_header(decode_header(m["Subject"]))) for m in smtp.messages]
    texts += [s["text"] for s in gateway.received] + [d["text"] for _, d in push.received]
    for text in texts:
        assert "Incendie" in text or "Signalement" in text
        for secret in ("Jeanne", "Autrice", "author", "Martin", "rue Droite", "43.18", "3.004"):
            assert secret not in text, (secret, text)
    assert "Centre-ville" in gateway.received[0]["text"]
    assert push.received[0][1] == {"level": "info", "text": push.received[0][1]["text"], "id": alert_id}
    await author.aclose()


async def test_a_push_service_saying_gone_removes_the_subscription_and_fails_the_row_once(
    tmp_path, server_factory, standins
) -> None:
    smtp, gateway, push = standins
    env = notify_env(tmp_path, smtp, gateway, DISPATCH_NOTIFY_RETRY_BASE_S="0.2", DISPATCH_NOTIFY_RETRY_CAP_S="0.5")
    server = server_factory(env)
    accounts = Accounts(env)
    accounts.add("dispatcher", "disp@example.org")
    for name in ("gone", "unknown", "both"):
        accounts.add("resident", f"{name}@example.org", *CENTRE)
    await opt_in(server.url, "gone@example.org", push, ["push"], "+33612000010")  # its endpoint answers 410
    push.gone.add("/push/gone")
    await opt_in(server.url, "both@example.org", push, ["push"], "+33612000011")  # one live, one gone
    stale = {"unknown": Subscriber(f"{push.url}/push/nobody"), "both": Subscriber(f"{push.url}/push/old")}
    await opt_in(server.url, "unknown@example.org", push, ["push"], "+33612000012")  # its endpoint: 404
    for name, sub in stale.items():
        me = await login(server.url, f"{name}@example.org", PASSWORD)
        assert (await me.http.post("/api/me/push-subscriptions", json=sub.subscription())).status_code == 201
        await me.aclose()
    push.subscribers.pop("/push/unknown")  # the service forgot the only subscription it had of "unknown"
    disp = await login(server.url, "disp@example.org", PASSWORD)
    target = {"sectors": ["centre"], "level": "info"}
    bid = (await disp.http.post("/api/broadcasts", json={**target, "text": "Un"})).json()["id"]
    await until(lambda: len(push.received) >= 1 and sum(push.hits.values()) >= 5, 20, "the pushes")
    await asyncio.sleep(2)  # retries (every 0.5 s at most) would show here
    assert push.errors == [] and [p for p, _ in push.received] == ["/push/both"]
    assert push.hits == Counter(
        {"/push/gone": 1, "/push/unknown": 1, "/push/nobody": 1, "/push/old": 1, "/push/both": 1}
    )
    receipts = (await disp.http.get(f"/api/broadcasts/{bid}/receipts")).json()
    assert receipts["push"] == {"queued": 0, "sent": 1, "failed": 2}
    # the gone subscriptions were removed: the next broadcast writes no push
    # row for those left without one and sends to the live endpoint only
    push.hits.clear()
    bid = (await disp.http.post("/api/broadcasts", json={**target, "text": "Deux"})).json()["id"]
    await until(lambda: len(push.received) >= 2, 20, "the second push")
    await asyncio.sleep(1.5)
    assert push.hits == Counter({"/push/both": 1})
    receipts = (await disp.http.get(f"/api/broadcasts/{bid}/receipts")).json()
    assert receipts["push"] == {"queued": 0, "sent": 1, "failed": 0}
    await disp.aclose()
