"""Pseudonymity, proven on a real server: whatever reaches a resident -- a
plain resident, a proxy account, a pending one -- over every resident-facing
route and every resident message type, live and replayed (?since=0), holds
no author id, no exact point of another resident's alert, and no name,
e-mail, phone, address or proxy name of anyone else, nor what operators and
moderators wrote. The raw bytes of every answer and frame are searched for
the other accounts' values, and every id-bearing key of every JSON document
must name the caller itself."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
import websockets

from dispatch.core.events import RESIDENT_MESSAGES
from tests.e2e import PASSWORD, Accounts, embedded_env, production_env, server_factory, store_env
from tests.joining_kit import decide, join
from tests.support import Client, drain, login, stream

HOME = (43.1837, 3.0042)  # the viewers' home, in the centre sector
# other residents' homes and alert points, with digits nobody else has
O1_HOME = (43.1843331, 3.0051117)
O1_POINT = (43.1841237, 3.0047319)
O2_POINT = (43.1832719, 3.0039581)
CIRCLE = (43.1838888, 3.0044444)
ID_KEYS = {"author", "by", "actor", "user_id", "user", "viewer", "flagger"}
SECRETS = ["note-interne-7Q", "Agent Dupont-Secret", "motif-caché-9Z", "raison-du-signalement-P"]


@dataclass
class Person:
    email: str
    name: str
    phone: str | None = None
    address: str | None = None
    on_behalf_of: str | None = None
    home: tuple[float, float] | None = None
    id: int = 0
    client: Client | None = None

    def values(self) -> list[str]:
        out = [self.email, self.name, *(v for v in (self.phone, self.address, self.on_behalf_of) if v)]
        if self.id > 2**32:  # a joined account's id is distinctive enough to search as text
            out.append(str(self.id))
        if self.home is not None and self is not None:
            out += [repr(self.home[0]), repr(self.home[1])]
        return out


@dataclass
class Seen:
    """Everything one viewer received: raw bytes, and the JSON documents."""

    raw: list[tuple[str, bytes]] = field(default_factory=list)
    docs: list[tuple[str, Any]] = field(default_factory=list)
    types: dict[str, set[str]] = field(default_factory=lambda: {"live": set(), "replay": set()})

    def add(self, where: str, raw: bytes) -> None:
        self.raw.append((where, raw))
        try:
            self.docs.append((where, orjson.loads(raw)))
        except orjson.JSONDecodeError:
            pass  # a page or a CSV: searched as bytes

    def response(self, where: str, r: httpx.Response) -> None:
        assert r.status_code < 500, (where, r.text)
        self.add(where, r.content)


def walk(doc: Any, path: str = "") -> list[tuple[str, Any]]:
    """(key path, value) of every key of a JSON document."""
    out: list[tuple[str, Any]] = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.append((f"{path}.{k}", v))
            out += walk(v, f"{path}.{k}")
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += walk(v, f"{path}[{i}]")
    return out


async def _collect_http(viewer: Person, seen: Seen, alert_ids: list[int], cell: str, own_lat: float) -> None:
    c = viewer.client
    assert c is not None
    for path in ("/api/me", "/session", "/api/alerts", "/api/sectors", "/config", "/api/categories", "/", "/ops"):
        seen.response(path, await c.http.get(path))
    seen.response("/map/cells", await c.http.get("/map/cells", params={"ids": cell}))
    for aid in alert_ids:
        seen.response(f"/api/alerts/{aid}", await c.http.get(f"/api/alerts/{aid}"))
        seen.response(f"flag {aid}", await c.http.post(f"/api/alerts/{aid}/flags", json={"reason": "doublon"}))
    mine = await c.post_alert(category="theft", lat=own_lat, lon=HOME[1], client_id="again")
    seen.response("POST /api/alerts (again)", mine)
    async with httpx.AsyncClient(base_url=c.url, timeout=30) as anon:
        r = await anon.post("/api/auth/login", json={"email": viewer.email, "password": PASSWORD})
        seen.response("login", r)


async def _scenario(server: Any, people: dict[str, Person], disp: Client, mod: Client) -> tuple[list[int], str]:
    """The events every viewer should hear of: others' alerts (one
    annotated by operators then its text hidden, one hidden), the viewers' own alerts
    acknowledged, two broadcasts."""
    o1, o2 = people["o1"].client, people["o2"].client
    assert o1 is not None and o2 is not None
    a1 = (await o1.post_alert(category="burglary", lat=O1_POINT[0], lon=O1_POINT[1], text="Porte forcée")).json()
    a2 = (await o2.post_alert(category="suspicious", lat=O2_POINT[0], lon=O2_POINT[1], text="Rôdeur")).json()
    r = await disp.http.patch(
        f"/api/alerts/{a1['id']}", json={"status": "acknowledged", "note": SECRETS[0], "assignee": SECRETS[1]}
    )
    assert r.status_code == 200, r.text
    for who in ("viewer", "proxy"):
        c = people[who].client
        assert c is not None
        own = (await c.post_alert(category="theft", lat=HOME[0] + 0.0002, lon=HOME[1], client_id="again")).json()
        assert (await disp.http.patch(f"/api/alerts/{own['id']}", json={"status": "acknowledged"})).status_code == 200
    for body in (
        {"text": "Coupure", "level": "info", "sectors": ["centre"]},
        {"text": "Fumée", "level": "urgent", "circle": {"lat": CIRCLE[0], "lon": CIRCLE[1], "radius_m": 400}},
    ):
        assert (await disp.http.post("/api/broadcasts", json=body)).status_code == 201
    flagger = people["o2"].client
    assert flagger is not None
    await flagger.http.post(f"/api/alerts/{a1['id']}/flags", json={"reason": SECRETS[3]})
    r = await mod.http.post(f"/api/moderation/alerts/{a2['id']}", json={"action": "hide", "reason": SECRETS[2]})
    assert r.status_code == 200
    r = await mod.http.post(f"/api/moderation/alerts/{a1['id']}", json={"action": "hide_text", "reason": SECRETS[2]})
    assert r.status_code == 200
    return [a1["id"], a2["id"]], a1["cell"]


async def _people(server: Any, env: dict[str, str]) -> tuple[dict[str, Person], Client, Client]:
    accounts = Accounts(env)
    people = {
        "viewer": Person("valerie.vue@example.org", "Valérie Vue", home=HOME),
        "proxy": Person(
            "fils.proxy@example.org", "Fabien Fils", "+33611111111", "11 rue du Mandataire", "Mme Paulette Aînée", HOME
        ),
        "pending": Person(
            "paul.attente@example.org", "Paul Attente", "+33633333333", "33 impasse de l'Attente", None, HOME
        ),
        "o1": Person(
            "odile.autrice@example.org", "Odile Autrice", "+33622222222", "22 avenue Secrète", "M. Octave", O1_HOME
        ),
        "o2": Person("oscar.auteur@example.org", "Oscar Auteur", home=(43.1829911, 3.0038877)),
        "disp": Person("denis.dispatch@example.org", "Denis Dispatch"),
        "mod": Person("martine.modo@example.org", "Martine Modo"),
    }
    for key, role in (("viewer", "resident"), ("o2", "resident"), ("disp", "dispatcher"), ("mod", "moderator")):
        p = people[key]
        home = p.home or (None, None)
        p.id = accounts.add(role, p.email, home[0], home[1], name=p.name)
    mod = await login(server.url, people["mod"].email, PASSWORD)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        for key in ("proxy", "pending", "o1"):
            p = people[key]
            assert p.home is not None
            extra = {"phone": p.phone, "address": p.address, "on_behalf_of": p.on_behalf_of}
            r = await join(http, p.email, name=p.name, lat=p.home[0], lon=p.home[1], **extra)
            p.id = r.json()["id"]
            if key != "pending":
                await decide(mod, p.id, "validate")
    for p in people.values():
        p.client = await login(server.url, p.email, PASSWORD)
    disp = people["disp"].client
    assert disp is not None
    return people, disp, mod


def _check(viewer: Person, people: dict[str, Person], seen: Seen) -> None:
    forbidden = [*SECRETS, *(f"{lat!r}" for lat in (*O1_POINT, *O2_POINT, *CIRCLE))]
    for p in people.values():
        if p is not viewer:
            forbidden += [v for v in p.values() if p.home != viewer.home or v not in map(repr, HOME)]
    leaks = [(where, v) for where, raw in seen.raw for v in forbidden if v.encode() in raw]
    assert leaks == [], f"{viewer.name} received others' data: {leaks}"
    for where, doc in seen.docs:
        for key, value in walk(doc):
            name = key.rsplit(".", 1)[-1]
            if name in ID_KEYS:
                assert value == viewer.id, f"{viewer.name}: {where} {key} = {value!r}"
            assert name not in ("assignee", "notes", "hide_reason", "author_name", "email") or (
                name == "email" and value == viewer.email
            ), f"{viewer.name}: {where} has {key}"


@pytest.fixture(params=["sqlite", "postgres"])
def env(request: pytest.FixtureRequest, tmp_path: Any) -> dict[str, str]:
    base = store_env(request, tmp_path)
    return {**base, "DISPATCH_PROOFS_DIR": str(tmp_path / "proofs")}


async def test_nothing_about_anyone_else_reaches_a_resident(env, server_factory) -> None:
    server = server_factory(env)
    people, disp, mod = await _people(server, env)
    viewers = ("viewer", "proxy", "pending")
    seen = {k: Seen() for k in viewers}
    async with (
        stream(server.ws_url, "/ws/resident", people["viewer"].client.token) as v_ws,  # type: ignore[union-attr]
        stream(server.ws_url, "/ws/resident", people["proxy"].client.token) as p_ws,  # type: ignore[union-attr]
    ):
        alert_ids, cell = await _scenario(server, people, disp, mod)
        for key, ws in (("viewer", v_ws), ("proxy", p_ws)):
            for msg in await drain(ws, 0.5):
                seen[key].add("live " + msg["type"], orjson.dumps(msg))
                seen[key].types["live"].add(msg["type"])
    try:
        async with stream(server.ws_url, "/ws/resident", people["pending"].client.token):  # type: ignore[union-attr]
            raise AssertionError("a pending account opened /ws/resident")
    except websockets.InvalidStatus as refused:
        assert refused.response.status_code == 403
        seen["pending"].add("ws refused", refused.response.body)
    for key in viewers:
        viewer = people[key]
        if key != "pending":
            for since in (0, 10**9):
                async with stream(server.ws_url, "/ws/resident", viewer.client.token, since=since) as ws:  # type: ignore[union-attr]
                    for msg in await drain(ws, 0.5):
                        seen[key].add(f"replay {msg['type']}", orjson.dumps(msg))
                        seen[key].types["replay"].add(msg["type"])
        await _collect_http(viewer, seen[key], alert_ids, cell, HOME[0] + 0.0002)
        _check(viewer, people, seen[key])
    every = set(RESIDENT_MESSAGES.values())
    for key in ("viewer", "proxy"):
        assert seen[key].types["live"] == every, seen[key].types
        assert seen[key].types["replay"] == every | {"resync"}, seen[key].types
    assert all(where.startswith(("/", "flag", "POST", "login", "ws")) for where, _ in seen["pending"].raw)
    for p in people.values():
        assert p.client is not None
        await p.client.aclose()
    await mod.aclose()
    await asyncio.sleep(0)
