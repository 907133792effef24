"""Issue 19: a resident's notification settings, the VAPID key and push
subscriptions, through a real server (embedded store)."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.e2e import CENTRE, PASSWORD, Accounts, embedded_env, server_factory
from tests.notify_standins import Subscriber
from tests.support import login


async def test_settings_default_to_the_app_then_keep_what_the_resident_chose(tmp_path, server_factory) -> None:
    env = {**embedded_env(tmp_path), "DISPATCH_NOTIFY_VAPID_KEY": str(tmp_path / "vapid.pem")}
    server = server_factory(env)
    Accounts(env).add("resident", "res@example.org", *CENTRE)
    Accounts(env).add("dispatcher", "disp@example.org")
    me = await login(server.url, "res@example.org", PASSWORD)
    r = await me.http.get("/api/me/notifications")
    assert r.status_code == 200
    assert r.json() == {"channels": ["app"], "levels": ["info", "warning", "urgent"], "categories": []}
    # SMS without a phone is refused; a bad phone too
    r = await me.http.put("/api/me/notifications", json={"channels": ["app", "sms"]})
    assert (r.status_code, r.json()["error"]["field"]) == (422, "phone")
    r = await me.http.put("/api/me/notifications", json={"channels": ["sms"], "phone": "12"})
    assert r.json()["error"]["code"] == "invalid_phone"
    r = await me.http.put("/api/me/notifications", json={"channels": ["email"], "levels": ["loud"]})
    assert r.json()["error"]["code"] == "unknown_level"
    r = await me.http.put("/api/me/notifications", json={"channels": ["email"], "extra": 1})
    assert r.json()["error"]["code"] == "unknown_field"
    body = {
        "channels": ["sms", "app", "email"],
        "phone": "06 12 34 56 78",
        "levels": ["urgent"],
        "categories": ["fire"],
    }
    r = await me.http.put("/api/me/notifications", json=body)
    assert r.status_code == 200, r.text
    want = {
        "channels": ["app", "email", "sms"],
        "phone": "+33612345678",
        "levels": ["urgent"],
        "categories": ["fire"],
    }
    assert r.json() == want
    assert (await me.http.get("/api/me/notifications")).json() == want
    staff = await login(server.url, "disp@example.org", PASSWORD)
    assert (await staff.http.get("/api/me/notifications")).status_code == 403
    await staff.aclose()
    await me.aclose()


async def test_push_key_is_made_once_and_a_subscription_is_kept(tmp_path, server_factory) -> None:
    key_path = tmp_path / "vapid.pem"
    env = {**embedded_env(tmp_path), "DISPATCH_NOTIFY_VAPID_KEY": str(key_path)}
    server = server_factory(env)
    Accounts(env).add("resident", "res@example.org", *CENTRE)
    me = await login(server.url, "res@example.org", PASSWORD)
    r = await me.http.get("/api/push/key")
    public = r.json()["public_key"]
    assert len(base64.urlsafe_b64decode(public + "==")) == 65
    assert key_path.stat().st_mode & 0o077 == 0
    sub = Subscriber("https://push.example/abc").subscription()
    r = await me.http.post("/api/me/push-subscriptions", json=sub)
    assert r.status_code == 201, r.text
    bad = {"endpoint": "https://push.example/abc", "keys": {"p256dh": "AAAA", "auth": "AAAA"}}
    assert (await me.http.post("/api/me/push-subscriptions", json=bad)).status_code == 422
    await me.aclose()
    server.stop()
    again = server_factory(env)  # the same key after a restart
    async with __import__("httpx").AsyncClient(base_url=again.url) as http:
        assert (await http.get("/api/push/key")).json()["public_key"] == public


async def test_api_me_shows_the_phone_just_saved(tmp_path, server_factory) -> None:
    env = {**embedded_env(tmp_path), "DISPATCH_NOTIFY_VAPID_KEY": str(tmp_path / "vapid.pem")}
    server = server_factory(env)
    Accounts(env).add("resident", "res@example.org", *CENTRE)
    me = await login(server.url, "res@example.org", PASSWORD)
    assert "phone" not in (await me.http.get("/api/me")).json()  # the session is cached from here on
    r = await me.http.put("/api/me/notifications", json={"channels": ["app", "sms"], "phone": "06 12 34 56 78"})
    assert r.status_code == 200, r.text
    assert (await me.http.get("/api/me")).json()["phone"] == "+33612345678"
    r = await me.http.put("/api/me/notifications", json={"channels": ["app"], "phone": None})
    assert r.status_code == 200, r.text
    assert "phone" not in (await me.http.get("/api/me")).json()
    await me.aclose()
