"""Reporting by SMS (issue 19) through a real server on both stores: a
signed POST /api/sms/inbound from a validated resident's phone makes an
alert that a real /ws/ops client receives, and the sender's confirmation SMS
reaches the SMS gateway stand-in; an unknown number is refused and logged
without its text or number; a bad signature is refused; STOP turns SMS off."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dispatch.settings import load_settings
from geo.streets import load_streets
from tests.e2e import CENTRE, PASSWORD, Accounts, embedded_env, production_env, server_factory, store_env
from tests.notify_standins import GatewayStandIn
from tests.support import login, next_message, stream
from tests.test_delivery_e2e import until

__all__ = ["server_factory"]

SECRET = "gateway-shared-secret"
PHONE = "+33612345678"


@pytest.fixture
def gateway() -> Iterator[GatewayStandIn]:
    g = GatewayStandIn()
    yield g
    g.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def env(request: pytest.FixtureRequest, tmp_path: Path, gateway: GatewayStandIn) -> dict[str, str]:
    base = store_env(request, tmp_path)
    return {
        **base,
        "DISPATCH_NOTIFY_SMS_SECRET": SECRET,
        "DISPATCH_NOTIFY_SMS_NUMBER": "38000",
        "DISPATCH_NOTIFY_SMS_URL": gateway.url + "/sms",
        "DISPATCH_NOTIFY_SMS_TOKEN": "gateway-token",
        "DISPATCH_NOTIFY_POLL_S": "0.2",
        "DISPATCH_NOTIFY_VAPID_KEY": str(tmp_path / "vapid.pem"),
    }


def signed(body: dict[str, Any], secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    sig = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return raw, {"Content-Type": "application/json", "X-Dispatch-Signature": sig}


async def inbound(http: httpx.AsyncClient, sender: str, text: str, secret: str = SECRET) -> httpx.Response:
    raw, headers = signed({"from": sender, "text": text}, secret)
    return await http.post("/api/sms/inbound", content=raw, headers=headers)


async def resident_with_phone(server_url: str, env: dict[str, str], phone: str = "06 12 34 56 78") -> int:
    user_id = Accounts(env).add("resident", "sms@example.org", *CENTRE, name="Paulette Texto")
    me = await login(server_url, "sms@example.org", PASSWORD)
    r = await me.http.put("/api/me/notifications", json={"channels": ["app", "sms"], "phone": phone})
    assert r.status_code == 200, r.text
    await me.aclose()
    return user_id


def texts_to(gateway: GatewayStandIn, phone: str) -> list[str]:
    with gateway.lock:
        return [m["text"] for m in gateway.received if m["to"] == phone]


async def test_an_sms_from_a_resident_becomes_an_alert_on_ws_ops(env, server_factory, gateway) -> None:
    server = server_factory(env)
    author = await resident_with_phone(server.url, env)
    Accounts(env).add("dispatcher", "ops@example.org")
    ops = await login(server.url, "ops@example.org", PASSWORD)
    street = load_streets(load_settings(env={}).city_streets).locate("rue droite")  # type: ignore[arg-type]
    assert street is not None
    async with stream(server.ws_url, "/ws/ops", ops.token) as ws, httpx.AsyncClient(base_url=server.url) as http:
        r = await inbound(http, PHONE, "Incendié 12 rue Droite")
        assert r.status_code == 201, r.text
        alert_id = r.json()["alert"]
        assert r.json() == {"result": "alert", "alert": alert_id}
        msg = await next_message(ws, timeout=5, type_="alert.created")
    alert = msg["data"]
    assert alert["id"] == alert_id
    assert (alert["category"], alert["author"]) == ("fire", author)
    assert (alert["lat"], alert["lon"]) == (street.lat, street.lon)
    assert alert["sector"] == "centre" and alert["incident"] is not None  # grouped like any other
    # the confirmation, through the outbox, at the gateway: the category, the
    # number, where it was put, and the short way to stop
    await until(lambda: len(texts_to(gateway, PHONE)) == 1, 10, "the confirmation SMS")
    (confirmation,) = texts_to(gateway, PHONE)
    assert f"Signalement {alert_id} " in confirmation and "Incendie" in confirmation and street.name in confirmation
    assert confirmation.endswith("STOP au 38000"), confirmation
    # without a place (or with a street the gazetteer lacks): the home
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await inbound(http, "06 12 34 56 78", "vol impasse des Inconnus")
        assert r.status_code == 201, r.text
    home = (await ops.http.get(f"/api/alerts/{r.json()['alert']}")).json()
    assert (home["category"], home["lat"], home["lon"]) == ("theft", *CENTRE)
    await until(lambda: len(texts_to(gateway, PHONE)) == 2, 10, "the second confirmation")
    assert "au domicile" in texts_to(gateway, PHONE)[1]
    await ops.aclose()


async def test_unknown_numbers_and_bad_signatures_are_refused(env, server_factory, gateway) -> None:
    server = server_factory(env)
    await resident_with_phone(server.url, env)
    secret_text = "FEU chez Mme Secretissime"
    stranger = "+33698765432"
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await inbound(http, stranger, secret_text)
        assert (r.status_code, r.json()["error"]["code"]) == (403, "unknown_number")
        # a bad signature, a signature with another secret, no signature at all
        raw, headers = signed({"from": PHONE, "text": "FEU"})
        bad = await http.post("/api/sms/inbound", content=raw, headers={**headers, "X-Dispatch-Signature": "0" * 64})
        other = await inbound(http, PHONE, "FEU", secret="not-the-secret")
        unsigned = await http.post("/api/sms/inbound", json={"from": PHONE, "text": "FEU"})
        tampered = await http.post(
            "/api/sms/inbound", content=raw.replace(b"FEU", b"VOL"), headers=headers
        )  # signed body changed
        for refused in (bad, other, unsigned, tampered):
            assert (refused.status_code, refused.json()["error"]["code"]) == (403, "bad_signature")
        # a signed body that is not the contract's shape is a 4xx, never a 5xx
        raw, headers = signed({"from": PHONE, "text": "FEU", "extra": 1})
        assert (await http.post("/api/sms/inbound", content=raw, headers=headers)).status_code == 422
    assert (await http_alerts(server.url, env)) == []
    log = Path(server.log_path).read_text(errors="replace")  # type: ignore[arg-type]
    assert "unknown number" in log
    for leak in (secret_text, "Secretissime", stranger, stranger[1:], "698765432"):
        assert leak not in log, f"the log holds {leak!r}"
    await asyncio.sleep(1)  # several poll_s: nothing was queued for anyone
    assert gateway.received == []


async def http_alerts(url: str, env: dict[str, str]) -> list[Any]:
    Accounts(env).add("supervisor", "chef@example.org")
    chef = await login(url, "chef@example.org", PASSWORD)
    out = (await chef.http.get("/api/alerts")).json()
    await chef.aclose()
    return list(out)


async def test_stop_turns_sms_off_and_nonsense_gets_help(env, server_factory, gateway) -> None:
    server = server_factory(env)
    await resident_with_phone(server.url, env)
    async with httpx.AsyncClient(base_url=server.url) as http:
        help_ = await inbound(http, PHONE, "bonjour, il y a un souci")
        assert (help_.status_code, help_.json()) == (200, {"result": "help"})
        stop = await inbound(http, PHONE, "Arrêt")
        assert (stop.status_code, stop.json()) == (200, {"result": "stopped"})
    me = await login(server.url, "sms@example.org", PASSWORD)
    settings = (await me.http.get("/api/me/notifications")).json()
    assert settings["channels"] == ["app"] and settings["phone"] == PHONE  # the number stays: intake still knows it
    await me.aclose()
    assert (await http_alerts(server.url, env)) == []  # neither made an alert
    # the help lists the keywords; the stop is confirmed (once, even retried)
    await until(lambda: len(texts_to(gateway, PHONE)) == 2, 10, "the help and the stop confirmation")
    help_text, stopped = texts_to(gateway, PHONE)
    assert "FEU" in help_text and "VOL" in help_text and "AIDE" in help_text
    assert "plus de SMS" in stopped
    # a broadcast now reaches this resident in the app only, not by SMS
    Accounts(env).add("dispatcher", "disp@example.org")
    disp = await login(server.url, "disp@example.org", PASSWORD)
    sent = await disp.http.post("/api/broadcasts", json={"sectors": ["centre"], "text": "Essai", "level": "urgent"})
    assert sent.status_code == 201, sent.text
    receipts = (await disp.http.get(f"/api/broadcasts/{sent.json()['id']}/receipts")).json()
    assert sum(receipts["sms"].values()) == 0
    await disp.aclose()


async def test_the_alert_limit_applies_to_sms_too(tmp_path, server_factory, gateway) -> None:
    env = {
        **embedded_env(tmp_path),
        "DISPATCH_NOTIFY_SMS_SECRET": SECRET,
        "DISPATCH_NOTIFY_VAPID_KEY": str(tmp_path / "vapid.pem"),
        "DISPATCH_LIMITS_ALERTS_PER_WINDOW": "1",
    }
    server = server_factory(env)
    await resident_with_phone(server.url, env)
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert (await inbound(http, PHONE, "FEU")).status_code == 201
        second = await inbound(http, PHONE, "FEU")
    assert (second.status_code, second.json()["error"]["code"]) == (429, "rate_limited")
    assert int(second.headers["retry-after"]) >= 1
