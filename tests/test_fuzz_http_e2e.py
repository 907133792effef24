"""Hypothesis against every HTTP route the app registers (walked from
create_app().routes, so a new route is fuzzed without a line here), on both
stores: hostile path ids, query strings and bodies (JSON of every type and
depth, NaN and 1e400, duplicate keys, lone surrogates, NUL, RTL, emoji,
non-JSON, wrong content types, multipart garbage, oversized bodies), as
every role the Roles table lets through and anonymously. No answer is a
5xx, every 4xx has the contract's error shape, and afterwards the worker is
alive and still carries an alert end to end."""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.settings import REPO_ROOT, load_settings
from tests.e2e import CENTRE
from tests.fuzz_kit import (
    FUZZ,
    RAW_TOKENS,
    ROLES,
    STORES,
    Live,
    assert_answer,
    dates,
    ids,
    json_values,
    live_server,
    query_values,
    sign,
    texts,
)
from tests.joining_kit import real_png
from tests.support import next_message, stream
from tests.test_docs import _walk, path_shape

EXAMPLES = 10  # per route and store: about 500 requests per store

# Right values per field, so that examples get past the first check of a
# body and reach the later ones (a wrong password: the fuzzer must never
# erase its own account through DELETE /api/me).
VALID: dict[str, Any] = {
    "category": "fire", "lat": CENTRE[0], "lon": CENTRE[1], "text": "fumée", "client_id": "c1",
    "status": "acknowledged", "priority": 5, "assignee": "Dupont", "note": "vu", "sectors": "all",
    "circle": {"lat": CENTRE[0], "lon": CENTRE[1], "radius_m": 500}, "level": "info",
    "polygon": {"type": "Polygon", "coordinates": [[[3.0, 43.18], [3.01, 43.18], [3.01, 43.19], [3.0, 43.18]]]},
    "email": "resident@example.org", "password": "not the password", "wall": False, "unpin": True, "unit": 1,
    "incidents": [2], "alerts": [1], "name": "Unité 7", "decision": "validate", "action": "hide",
    "reason": "abus", "channels": ["app"], "phone": "+33612345678", "levels": ["info"], "categories": ["fire"],
    "endpoint": "https://push.example/x", "keys": {"p256dh": "BA", "auth": "AA"}, "id": "sms-1", "from": "+33612345678",
}  # fmt: skip
QUERY_KEYS = ["status", "sector", "category", "since", "until", "limit", "actor", "action", "format", "res", "ids"]
VALID_QUERY = {"status": "new", "sector": "centre", "category": "fire", "limit": "10", "format": "csv", "res": "7"}
# The accounts the fuzzer acts with: an id of theirs in a path is moved away,
# so that no example suspends or erases them mid-run.
SESSION_ENDING = {"POST /api/auth/logout"}
CONTENT_TYPES = [
    "application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=zz",
    "application/json; charset=utf-16", "", "*/*",
]  # fmt: skip


def _routes() -> list[tuple[str, str]]:
    from dispatch.http.app import create_app

    app = create_app(load_settings(REPO_ROOT / "config.toml", env={}))
    return [(m, p) for m, p in _walk(app.routes) if m != "WS"]


def _allowed() -> dict[str, list[str]]:
    """route -> the roles of ROLES that the Roles table lets through (a 2xx)."""
    from tests.test_role_matrix import documented

    return {route: [r for r in ROLES if 200 <= cells[r] < 300] for route, cells in documented().items()}


ROUTES = _routes()
ALLOWED = _allowed()


@pytest.fixture(scope="module", params=STORES)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    with live_server(request.param, Path(tmp_path_factory.mktemp(f"fuzz-http-{request.param}"))) as lv:
        yield lv


def _raw_json(draw: st.DrawFn) -> bytes:
    """A right body with one value swapped for a token Python's JSON would
    never write, or keys given twice, or nesting past any parser's depth."""
    base = orjson.dumps({k: VALID[k] for k in draw(st.lists(st.sampled_from(sorted(VALID)), max_size=4))})
    kind = draw(st.sampled_from(["token", "duplicate", "deep", "truncated"]))
    token = draw(st.sampled_from(RAW_TOKENS))
    key = draw(st.sampled_from(sorted(VALID))).encode()
    if kind == "token":
        return b'{"' + key + b'": ' + token + b"," + base[1:] if base != b"{}" else b'{"' + key + b'": ' + token + b"}"
    if kind == "duplicate":
        return b'{"' + key + b'": 1, "' + key + b'": ' + token + b"}"
    if kind == "deep":
        depth = draw(st.sampled_from([100, 1000, 5000]))
        return b'{"' + key + b'": ' + b"[" * depth + b"]" * depth + b"}"
    return base[: draw(st.integers(0, len(base)))]


def _multipart(draw: st.DrawFn) -> tuple[bytes, str]:
    """POST /api/residents: parts of any name and bytes, sometimes a real
    proof, sometimes a broken frame."""
    boundary = draw(st.sampled_from(["zz", "a" * 70, 'b"c', "-"]))
    names = ["name", "email", "password", "address", "lat", "lon", "phone", "on_behalf_of", "proof", "x"]
    parts = []
    for name in draw(st.lists(st.sampled_from(names), max_size=10)):
        if name == "proof" and draw(st.booleans()):
            value, head = real_png(), b'; filename="p.png"\r\nContent-Type: image/png'
        else:
            value = draw(st.one_of(texts.map(lambda t: t.encode("utf-8", "surrogatepass")), st.binary(max_size=40)))
            head = b""
        parts.append(b"--" + boundary.encode() + b'\r\nContent-Disposition: form-data; name="' + name.encode())
        parts.append(b'"' + head + b"\r\n\r\n" + value + b"\r\n")
    body = b"".join(parts) + b"--" + boundary.encode() + b"--\r\n"
    if draw(st.booleans()):
        body = body[: draw(st.integers(0, len(body)))]
    return body, f"multipart/form-data; boundary={boundary}"


@st.composite
def bodies(draw: st.DrawFn, route: str) -> tuple[bytes, str]:
    kind = draw(st.sampled_from(["fields", "fields", "json", "raw", "garbage", "huge", "multipart", "none"]))
    ctype = "application/json"
    if kind == "fields":
        keys = draw(st.lists(st.sampled_from(sorted(VALID)), max_size=5, unique=True))
        body = {k: draw(st.one_of(st.just(VALID[k]), json_values)) for k in keys}
        return orjson.dumps(body), ctype
    if kind == "json":
        return orjson.dumps(draw(json_values)), ctype
    if kind == "raw":
        return _raw_json(draw), ctype
    if kind == "huge":
        size = draw(st.sampled_from([64 * 1024 + 1, 1024 * 1024, 6 * 1024 * 1024]))
        return b'{"text": "' + b"x" * size + b'"}', ctype
    if kind == "multipart" or route == "POST /api/residents":
        return _multipart(draw)
    if kind == "none":
        return b"", draw(st.sampled_from(CONTENT_TYPES))
    return draw(st.binary(max_size=200)), draw(st.sampled_from(CONTENT_TYPES))


@st.composite
def queries(draw: st.DrawFn) -> str:
    """A query string: known keys with hostile values, unknown keys, keys
    given twice, and percent-escapes that are not UTF-8."""
    pairs = []
    for key in draw(st.lists(st.sampled_from([*QUERY_KEYS, "x"]), max_size=3)):
        value = draw(st.one_of(st.just(VALID_QUERY.get(key, "1")), query_values, dates))
        pairs.append((key, value))
    query = urllib.parse.urlencode(pairs, encoding="utf-8", errors="surrogatepass")
    raw = draw(st.sampled_from(["", "", "", "&limit=%ED%A0%80", "&since=%FF", "&limit=%00", "&%zz=1", "&limit"]))
    return query + raw


def _path(draw: st.DrawFn, template: str, live: Live) -> str:
    out = template
    while "{" in out:
        head, _, rest = out.partition("{")
        value = draw(ids)
        if value.isascii() and value.isdigit() and int(value) in live.ids.values():
            value = str(int(value) + 10**6)
        out = head + urllib.parse.quote(value, safe="") + rest.partition("}")[2]
    return out


def _headers(draw: st.DrawFn, route: str, live: Live, body: bytes, ctype: str) -> dict[str, str]:
    callers = ["none", "bogus"] + ([] if route in SESSION_ENDING else ALLOWED.get(route, list(ROLES)))
    caller = draw(st.sampled_from(callers))
    headers = {"Authorization": "Bearer not-a-token"} if caller == "bogus" else live.headers(caller)
    if ctype:
        headers["Content-Type"] = ctype
    if route.startswith("POST /api/sms/") and draw(st.booleans()):
        headers["X-Dispatch-Signature"] = sign(body)
    return headers


@pytest.mark.parametrize("method,template", ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_no_5xx_on_any_input(live: Live, method: str, template: str) -> None:
    route = f"{method} {path_shape(template)}"

    http = httpx.Client(base_url=live.url, timeout=30)

    @settings(FUZZ, max_examples=EXAMPLES)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        path = _path(data.draw, template, live)
        query = data.draw(queries())
        body, ctype = data.draw(bodies(route)) if method != "GET" else (b"", "")
        headers = _headers(data.draw, route, live, body, ctype)
        r = http.request(method, path + ("?" + query if query else ""), content=body or None, headers=headers)
        assert_answer(r, f"{method} {path}?{query} [{live.store}]")

    with http:
        run()


async def test_alive_after_the_fuzzing(live: Live) -> None:
    """Runs after every route's fuzzing (pytest keeps the file's order): the
    worker answers, and an alert still goes from a resident to the desk."""
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
        assert (await http.get("/healthz")).status_code == 200
        async with stream(live.server.ws_url, "/ws/ops", live.tokens["dispatcher"]) as ws:
            r = await http.post("/api/alerts", json={"category": "fire", "lat": CENTRE[0], "lon": CENTRE[1]},
                                headers=live.headers("resident"))  # fmt: skip
            assert r.status_code == 201, r.text
            msg = await next_message(ws, timeout=10, type_="alert.created")
            assert msg["data"]["id"] == r.json()["id"]
