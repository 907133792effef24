"""Issue 20, minimisation: a moderator hides an alert's TEXT alone, on both
stores (two workers on PostgreSQL: the decision on one, the sockets and
replays on the other). Residents' lists, single reads and replays
(/ws/resident?since) keep the alert without its text, and the residents
connected get alert.text {"id", "text"} at once; staff read the text
with "text_hidden": true, and the ops screens get alert.updated; the
decision closes the alert's open flags and is audited; restoring brings the
text back everywhere; hiding the whole alert and restoring it then restores
both."""

from __future__ import annotations

from typing import Any

import orjson

from tests.e2e import CENTRE, PASSWORD, Accounts, server_factory
from tests.privacy_kit import tables
from tests.support import Client, drain, login, next_message, stream
from tests.test_moderation_e2e import NEAR, setup, start

__all__ = ["server_factory", "setup"]

TEXT = "C'est encore M. Dupont du 12 qui fait ça"


async def _decide(mod: Client, alert_id: int, action: str) -> dict[str, Any]:
    r = await mod.http.post(f"/api/moderation/alerts/{alert_id}", json={"action": action, "reason": "nomme un tiers"})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def _resident_sees(listening: Any, who: Client, alert_id: int) -> tuple[str, str, list[str]]:
    """The alert's text in the resident's list, in its single read, and in
    each alert.nearby of a full replay."""
    listed = next(a for a in (await who.http.get("/api/alerts")).json() if a["id"] == alert_id)
    one = await who.http.get(f"/api/alerts/{alert_id}")
    assert one.status_code == 200, one.text
    async with stream(listening.ws_url, "/ws/resident", who.token, since=0) as ws:
        replay = await drain(ws, 0.5)
    nearby = [m["data"]["text"] for m in replay if m["type"] == "alert.nearby" and m["data"]["id"] == alert_id]
    return listed["text"], one.json()["text"], nearby


async def test_hide_text_then_restore(setup: Any) -> None:
    env, acting, listening = start(setup)
    accounts = Accounts(env)
    accounts.add("resident", "author@example.org", *CENTRE)
    accounts.add("resident", "near@example.org", *NEAR)
    accounts.add("resident", "other@example.org", *NEAR)
    accounts.add("dispatcher", "d@example.org")
    accounts.add("moderator", "m@example.org")
    author, near, disp, mod = [
        await login(acting.url, f"{n}@example.org", PASSWORD) for n in ("author", "near", "d", "m")
    ]
    alert = (await author.post_alert(category="suspicious", lat=CENTRE[0], lon=CENTRE[1], text=TEXT)).json()
    aid = alert["id"]
    assert await _resident_sees(listening, near, aid) == (TEXT, TEXT, [TEXT])
    assert (await near.http.post(f"/api/alerts/{aid}/flags", json={"reason": "nomme quelqu'un"})).status_code == 201

    async with (
        stream(listening.ws_url, "/ws/ops", disp.token) as ops,
        stream(listening.ws_url, "/ws/resident", near.token) as near_ws,
        stream(listening.ws_url, "/ws/resident", author.token) as author_ws,
    ):
        body = await _decide(mod, aid, "hide_text")
        assert (body["text_hidden"], body["hidden"], body["text"]) == (True, False, TEXT)
        updated = await next_message(ops, 3, "alert.updated")
        assert updated["data"]["id"] == aid and updated["data"]["text_hidden"] is True
        # residents who have it on screen (a neighbour, its author) blank it at once
        for ws in (near_ws, author_ws):
            assert (await next_message(ws, 3, "alert.text"))["data"] == {"id": aid, "text": ""}
    assert (await mod.http.get("/api/moderation/flags")).json() == [], "the decision closed the flag"

    # residents (a neighbour, and the author in their own list) keep the alert, not its text
    assert await _resident_sees(listening, near, aid) == ("", "", [""])
    assert await _resident_sees(listening, author, aid) == ("", "", [""])
    async with stream(listening.ws_url, "/ws/resident", near.token, since=0) as ws:
        assert TEXT not in orjson.dumps(await drain(ws, 0.5)).decode()
    # staff read it, marked
    staff = (await disp.http.get(f"/api/alerts/{aid}")).json()
    assert (staff["text"], staff["text_hidden"], staff["hidden"]) == (TEXT, True, False)
    listed = next(a for a in (await mod.http.get("/api/alerts")).json() if a["id"] == aid)
    assert (listed["text"], listed["text_hidden"]) == (TEXT, True)
    async with stream(listening.ws_url, "/ws/ops", disp.token, since=0) as ws:
        created = [m for m in await drain(ws, 0.5) if m["type"] == "alert.created" and m["data"]["id"] == aid]
    assert [(m["data"]["text"], m["data"]["text_hidden"]) for m in created] == [(TEXT, True)]

    # a new flag on the text-hidden alert, then restoring: the text is back, the flag closed
    other = await login(acting.url, "other@example.org", PASSWORD)
    assert (await other.http.post(f"/api/alerts/{aid}/flags", json={"reason": "encore"})).status_code == 201
    assert [f["alert"]["id"] for f in (await mod.http.get("/api/moderation/flags")).json()] == [aid]
    async with stream(listening.ws_url, "/ws/resident", near.token) as near_ws:
        assert (await _decide(mod, aid, "restore"))["text_hidden"] is False
        assert (await next_message(near_ws, 3, "alert.text"))["data"] == {"id": aid, "text": TEXT}
    assert (await mod.http.get("/api/moderation/flags")).json() == []
    assert await _resident_sees(listening, near, aid) == (TEXT, TEXT, [TEXT])
    assert (await disp.http.get(f"/api/alerts/{aid}")).json()["text_hidden"] is False

    # hiding a text-hidden alert, then restoring it, restores both
    await _decide(mod, aid, "hide_text")
    hidden = await _decide(mod, aid, "hide")
    assert hidden["hidden"] is True
    assert aid not in [a["id"] for a in (await near.http.get("/api/alerts")).json()]
    back = await _decide(mod, aid, "restore")
    assert (back["hidden"], back["text_hidden"]) == (False, False)
    assert await _resident_sees(listening, near, aid) == (TEXT, TEXT, [TEXT])

    db = await tables(env["DISPATCH_DATABASE_URL"])
    actions = [a["action"] for a in sorted(db["audit"], key=lambda a: a["id"]) if a["record_type"] == "alert"]
    assert [a for a in actions if a.startswith("moderation.")] == [
        "moderation.hide_text",
        "moderation.restore",
        "moderation.hide_text",
        "moderation.hide",
        "moderation.restore",
    ]
    bad = await mod.http.post(f"/api/moderation/alerts/{aid}", json={"action": "hide_texts", "reason": "x"})
    assert bad.status_code == 422
    for c in (author, near, disp, mod, other):
        await c.aclose()
