"""The server's logs over a full end-to-end run (issue 21): every line is
one JSON object with ts, level, logger and msg; request lines carry a
request id; per-socket lines are DEBUG; a refused handshake is no ERROR;
and none of the personal values the run sent appears anywhere: names,
e-mails, phones (E.164 and national), addresses, positions to 4 decimals
or more, free texts, client addresses."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import orjson
import pytest
import websockets

from tests.e2e import PASSWORD, Accounts, embedded_env, server_factory
from tests.joining_kit import join
from tests.notify_standins import GatewayStandIn, SmtpStandIn
from tests.support import login, stream
from tests.test_delivery_e2e import until
from tests.test_sms_intake_e2e import SECRET, inbound

# everything personal the run sends; none may reach a log line
JOINER = {
    "name": "Jeanne Dupont-Lefèvre",
    "email": "jeanne.dupont@example.org",
    "address": "17 rue des Lilas, 11100 Narbonne",
    "phone": "06 98 76 54 32",
    "lat": 43.18412,
    "lon": 3.00431,
}
E164, NATIONAL = "+33698765432", "0698765432"
NEIGHBOUR = {"name": "Marcel Voisinet", "email": "marcel.voisinet@example.org", "lat": 43.18377, "lon": 3.00518}
STAFF_NAMES = {"moderator": "Odile Modératrice", "dispatcher": "Karim Benhaddou"}
ALERT = {"text": "Un homme en veste rouge force la porte du garage", "lat": 43.18456, "lon": 3.00489}
FLAG = "Ce signalement accuse mon voisin à tort"
HIDE_REASON = "propos diffamatoires envers un voisin"
SMS_TEXT = "VOL 12 rue Droite trottinette bleue volée"
BROADCAST = "Évacuez les quais de la Robine avant midi"
SENT_ID = "trace-0123456789abcdef"


def needles() -> list[str]:
    out = [JOINER["name"], JOINER["email"], JOINER["address"], "rue des Lilas", JOINER["phone"], E164, NATIONAL]
    out += [NEIGHBOUR["name"], NEIGHBOUR["email"], *STAFF_NAMES.values(), "example.org"]
    out += [ALERT["text"], "veste rouge", FLAG, HIDE_REASON, SMS_TEXT, "trottinette", BROADCAST, "Robine", PASSWORD]
    for value in (JOINER["lat"], JOINER["lon"], NEIGHBOUR["lat"], NEIGHBOUR["lon"], ALERT["lat"], ALERT["lon"]):
        out.append(str(value)[: str(value).index(".") + 5])  # 4 decimals: about 10 m
    return out


@pytest.fixture
def standins() -> Any:
    smtp, gateway = SmtpStandIn(), GatewayStandIn()
    yield smtp, gateway
    smtp.stop()
    gateway.stop()


async def scenario(server: Any, env: dict[str, str], smtp: SmtpStandIn, gateway: GatewayStandIn) -> None:
    accounts = Accounts(env)
    accounts.add("moderator", "mod@example.org", name=STAFF_NAMES["moderator"])
    accounts.add("dispatcher", "disp@example.org", name=STAFF_NAMES["dispatcher"])
    accounts.add("resident", NEIGHBOUR["email"], NEIGHBOUR["lat"], NEIGHBOUR["lon"], name=NEIGHBOUR["name"])
    mod, disp = (
        await login(server.url, "mod@example.org", PASSWORD),
        await login(server.url, "disp@example.org", PASSWORD),
    )
    neighbour = await login(server.url, NEIGHBOUR["email"], PASSWORD)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        fields = {k: JOINER[k] for k in ("name", "address", "phone", "lat", "lon")}
        r = await join(http, JOINER["email"], **fields)
        assert r.status_code == 201, r.text
        joiner_id = r.json()["id"]
        assert (
            await mod.http.post(f"/api/moderation/residents/{joiner_id}", json={"decision": "validate"})
        ).status_code == 200
        for _ in range(3):  # failed logins: a wrong password, an unknown address
            assert (
                await http.post("/api/auth/login", json={"email": JOINER["email"], "password": "wrong-password-1"})
            ).status_code == 401
        assert (
            await http.post("/api/auth/login", json={"email": "nobody.here@example.org", "password": "x" * 12})
        ).status_code == 401
        traced = await http.get("/api/sectors", headers={"X-Request-ID": SENT_ID})
        assert traced.headers["x-request-id"] == SENT_ID
        odd = await http.get("/api/sectors", headers={"X-Request-ID": "no good id!"})
        assert re.fullmatch(r"[0-9a-f]{16}", odd.headers["x-request-id"])
    joiner = await login(server.url, JOINER["email"], PASSWORD)
    put = await joiner.http.put(
        "/api/me/notifications", json={"channels": ["app", "email", "sms"], "phone": JOINER["phone"]}
    )
    assert put.status_code == 200, put.text
    await refused_handshakes(server, neighbour.token)
    async with (
        stream(server.ws_url, "/ws/ops", disp.token) as ops,
        stream(server.ws_url, "/ws/resident", neighbour.token),
    ):
        r = await joiner.post_alert(category="theft", **ALERT)
        assert r.status_code == 201, r.text
        alert_id = r.json()["id"]
        flag = await neighbour.http.post(f"/api/alerts/{alert_id}/flags", json={"reason": FLAG})
        assert flag.status_code == 201, flag.text
        hide = await mod.http.post(
            f"/api/moderation/alerts/{alert_id}", json={"action": "hide_text", "reason": HIDE_REASON}
        )
        assert hide.status_code == 200, hide.text
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            assert (await inbound(http, E164, SMS_TEXT)).status_code == 201
            assert (await inbound(http, "+33611223344", "FEU au 3 rue Inconnue")).status_code in (200, 403, 404, 422)
        b = await disp.http.post("/api/broadcasts", json={"sectors": ["centre"], "text": BROADCAST, "level": "urgent"})
        assert b.status_code == 201, b.text
        await asyncio.wait_for(ops.recv(), 5)
        await until(lambda: len(smtp.messages) >= 1 and len(gateway.received) >= 2, 20, "the e-mail and the SMS")
    gone = await joiner.http.request("DELETE", "/api/me", json={"password": PASSWORD})
    assert gone.status_code == 204, gone.text
    for c in (mod, disp, neighbour, joiner):
        await c.aclose()


async def refused_handshakes(server: Any, resident_token: str) -> None:
    """A resident on the ops stream (403), nobody on the resident stream (401), a foreign origin."""
    for path, token, origin in (
        ("/ws/ops", resident_token, None),
        ("/ws/resident", "no-such-token", None),
        ("/ws/resident", resident_token, "https://evil.example"),
    ):
        with pytest.raises(websockets.InvalidStatus):
            async with stream(server.ws_url, path, token, origin=origin):
                pass


def parsed(text: str) -> list[dict[str, Any]]:
    lines = [line for line in text.splitlines() if line.strip()]
    out = []
    for line in lines:
        entry = orjson.loads(line)  # every line is one JSON object
        assert isinstance(entry, dict), line
        assert {"ts", "level", "logger", "msg"} <= entry.keys(), line
        out.append(entry)
    return out


@pytest.mark.parametrize("level", ["debug", "info"])
async def test_logs_are_json_lines_with_request_ids_and_no_personal_data(
    tmp_path, server_factory, standins, level
) -> None:
    smtp, gateway = standins
    env = {
        **embedded_env(tmp_path),
        "DISPATCH_LOG_LEVEL": level,
        "DISPATCH_PROOFS_DIR": str(tmp_path / "proofs"),
        "DISPATCH_NOTIFY_SMTP_HOST": "127.0.0.1",
        "DISPATCH_NOTIFY_SMTP_PORT": str(smtp.port),
        "DISPATCH_NOTIFY_SMS_URL": gateway.url + "/sms",
        "DISPATCH_NOTIFY_SMS_TOKEN": "gateway-token",
        "DISPATCH_NOTIFY_SMS_NUMBER": "38000",
        "DISPATCH_NOTIFY_SMS_SECRET": SECRET,
        "DISPATCH_NOTIFY_VAPID_KEY": str(tmp_path / "vapid.pem"),
        "DISPATCH_NOTIFY_POLL_S": "0.2",
    }
    server = server_factory(env)
    await scenario(server, env, smtp, gateway)
    server.stop()  # its shutdown lines too
    text = server.log_path.read_text(encoding="utf-8")
    entries = parsed(text)
    requests = [e for e in entries if e["logger"] == "dispatch.http"]
    assert len(requests) > 20 and all(re.fullmatch(r"[A-Za-z0-9_-]{8,64}", e["request_id"]) for e in requests)
    assert {"/api/residents", "/api/alerts", "/api/auth/login", "/api/me"} <= {e["route"] for e in requests}
    assert any(e["request_id"] == SENT_ID for e in requests) and "no good id" not in text
    assert not [e for e in entries if e["level"] in ("ERROR", "CRITICAL")]
    refused = [e for e in entries if e["msg"] == "socket refused"]
    assert sorted(e["status"] for e in refused) == [401, 403, 403] and all(e["request_id"] for e in refused)
    per_socket = [
        e for e in entries if e["msg"] in ("socket open", "socket closed", "connection open", "connection closed")
    ]
    if level == "info":
        assert per_socket == [] and all(e["level"] != "DEBUG" for e in entries)
    else:
        assert {e["msg"] for e in per_socket} >= {"socket open", "socket closed"}
        assert all(e["level"] == "DEBUG" for e in per_socket)
    lowered = text.lower()
    for needle in needles():
        for form in {needle, orjson.dumps(needle).decode()[1:-1]}:
            assert form.lower() not in lowered, f"{needle!r} is in the logs"
    # client addresses: the only 127.0.0.1:PORT a line may name is the server's own
    assert {int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", text)} <= {server.port}
