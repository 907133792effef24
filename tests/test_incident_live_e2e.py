"""Issue 18: what the wall and the desk need arrives live and by name, on
both stores. The `incident.*` events on /ws/ops carry the assigned unit's
NAME and `vulnerable`, within 2 s, also on changes that do not touch the unit
(a witness joining, a status change); the incident's history names the
staff member who acted (`actor_name`), and null for the system."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.e2e import CENTRE, PASSWORD, Accounts, embedded_env, production_env, server_factory
from tests.support import login, next_message, stream

LAT, LON = CENTRE


@pytest.fixture(params=["embedded", "production"])
def env(request, tmp_path) -> dict[str, str]:
    if request.param == "embedded":
        return embedded_env(tmp_path)
    return production_env(
        request.getfixturevalue("pg_url"), request.getfixturevalue("redis_url"), request.getfixturevalue("bus_prefix")
    )


async def incident_event(ws: Any, incident_id: int) -> dict[str, Any]:
    """The next incident.* event of this incident, within 2 s (the wall's budget)."""
    async with asyncio.timeout(2.0):
        while True:
            m = await next_message(ws, timeout=2.0)
            if m["type"].startswith("incident.") and m["data"]["id"] == incident_id:
                return m


async def test_unit_name_vulnerable_and_actor_names_live(env, server_factory) -> None:
    server = server_factory(env)
    accounts = Accounts(env)
    accounts.add("dispatcher", "claire@example.org", name="Claire Martin")
    accounts.add("supervisor", "chef@example.org")  # no name: the e-mail stands in
    accounts.add("resident", "marie@example.org", LAT, LON)
    accounts.add("resident", "paul@example.org", LAT + 0.0002, LON)
    disp = await login(server.url, "claire@example.org", PASSWORD)
    sup = await login(server.url, "chef@example.org", PASSWORD)
    marie = await login(server.url, "marie@example.org", PASSWORD)
    paul = await login(server.url, "paul@example.org", PASSWORD)
    unit = (await sup.http.post("/api/units", json={"name": "Patrouille Nord"})).json()
    async with stream(server.ws_url, "/ws/ops", disp.token) as ops:
        text = "personne âgée à la fenêtre, elle appelle à l'aide"
        alert = (await marie.post_alert(category="suspicious", lat=LAT, lon=LON, text=text)).json()
        iid = alert["incident"]
        created = await incident_event(ops, iid)
        assert created["type"] == "incident.created" and created["data"]["vulnerable"] is True
        assert (await disp.http.patch(f"/api/incidents/{iid}", json={"unit": unit["id"]})).status_code == 200
        assigned = await incident_event(ops, iid)
        assert assigned["data"]["unit"] == {"id": unit["id"], "name": "Patrouille Nord"}
        # a second witness joins: grouping's event names the unit too
        joined = (await paul.post_alert(category="suspicious", lat=LAT + 0.0002, lon=LON)).json()
        assert joined["incident"] == iid
        grouped = await incident_event(ops, iid)
        assert grouped["data"]["witnesses"] == 2 and grouped["data"]["unit"]["name"] == "Patrouille Nord"
        assert grouped["data"]["vulnerable"] is True
        # a status change that does not touch the unit still names it
        assert (await sup.http.patch(f"/api/incidents/{iid}", json={"status": "in_progress"})).status_code == 200
        moved = await incident_event(ops, iid)
        assert moved["data"]["status"] == "in_progress" and moved["data"]["unit"]["name"] == "Patrouille Nord"
    detail = (await disp.http.get(f"/api/incidents/{iid}")).json()
    by_action = {e["action"]: e for e in detail["history"]}
    assert by_action["opened"]["actor"] is None and by_action["opened"]["actor_name"] is None
    assert by_action["grouped"]["actor_name"] is None
    assert by_action["assigned"]["actor"] == disp.user_id and by_action["assigned"]["actor_name"] == "Claire Martin"
    assert by_action["status"]["actor_name"] == "chef@example.org"
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        hand = (await http.get("/api/handover", headers={"Authorization": f"Bearer {sup.token}"})).json()
    names = {e["actor_name"] for i in hand["open"] if i["id"] == iid for e in i["history"]}
    assert names == {None, "Claire Martin", "chef@example.org"}
    for c in (disp, sup, marie, paul):
        await c.aclose()
