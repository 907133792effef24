"""Hypothesis against both streams on both stores: handshakes with odd or
missing Origin, cookies and Authorization, any `since`, extra query; then,
on a socket that opened, whatever a client could send (any text, binary,
huge frames, text frames that are not UTF-8, pings). No handshake answers a
5xx; after the garbage the socket either still carries a live alert or was
closed with a proper code, within a bound (never hung); and a fresh client
still gets a live alert."""

from __future__ import annotations

import time
import urllib.parse
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.e2e import CENTRE
from tests.fuzz_kit import FUZZ, STORES, Live, assert_status, live_server, query_values, texts

EXAMPLES = 8  # per test and store
STREAMS = {"/ws/ops": ("dispatcher", "alert.created"), "/ws/resident": ("resident", "alert.nearby")}
# codes a server may close with on purpose (RFC 6455 7.4.1, and ours: 4xxx);
# never 1005 or 1006, which say no close frame came
PROPER = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1011, 1012, 4008, 4401, 4403, 4429}


@pytest.fixture(scope="module", params=STORES)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    with live_server(request.param, Path(tmp_path_factory.mktemp(f"fuzz-ws-{request.param}"))) as lv:
        yield lv


def _post_alert(live: Live) -> int:
    body = {"category": "fire", "lat": CENTRE[0], "lon": CENTRE[1]}
    r = httpx.post(live.url + "/api/alerts", json=body, headers=live.headers("resident"), timeout=30)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _gets_live_alert(ws: ClientConnection, live: Live, kind: str, timeout: float = 10.0) -> None:
    alert = _post_alert(live)
    deadline = time.monotonic() + timeout
    while True:
        msg = orjson.loads(ws.recv(timeout=max(deadline - time.monotonic(), 0.01)))
        if msg["type"] == kind and msg["data"]["id"] == alert:
            return


headers_values = st.one_of(texts.filter(lambda t: t.isascii() and t.isprintable()), st.sampled_from(["", " ", "null"]))
origins = st.one_of(
    st.none(),
    st.sampled_from(["null", "https://evil.example", "http://127.0.0.1", "file://", "http://[::1]", "x" * 2000]),
    headers_values,
)


@pytest.mark.parametrize("path", sorted(STREAMS))
def test_handshakes_never_5xx(live: Live, path: str) -> None:
    role = STREAMS[path][0]

    @settings(FUZZ, max_examples=EXAMPLES)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        pairs = [(k, data.draw(query_values)) for k in data.draw(st.lists(st.sampled_from(["since", "x"]), max_size=3))]
        url = live.server.ws_url + path + "?" + urllib.parse.urlencode(pairs, errors="surrogatepass")
        headers = {}
        auth = data.draw(st.sampled_from(["token", "none", "garbage", "cookie"]))
        if auth == "token":
            headers["Authorization"] = f"Bearer {live.tokens[role]}"
        elif auth == "garbage":
            headers["Authorization"] = data.draw(headers_values)
        elif auth == "cookie":
            headers["Cookie"] = data.draw(headers_values)
        origin = data.draw(origins)
        try:
            with connect(url, additional_headers=headers, origin=origin, open_timeout=10) as ws:  # type: ignore[arg-type]
                ws.recv(timeout=0.05) if data.draw(st.booleans()) else None
        except InvalidStatus as exc:
            r = exc.response
            ctype = r.headers.get("content-type", "")
            assert_status(r.status_code, ctype, r.body or b"", f"handshake {url} {headers} origin={origin!r}")
        except TimeoutError:
            pass  # no message in 50 ms: the socket is open and quiet
        except ConnectionClosed as exc:
            assert exc.rcvd is not None and exc.rcvd.code in PROPER, exc
        except InvalidHandshake as exc:
            raise AssertionError(f"handshake {url}: {exc!r}") from exc

    run()


def _garbage(draw: st.DrawFn, ws: ClientConnection) -> None:
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["text", "binary", "huge", "not_utf8", "ping", "json"]))
        if kind == "text":
            ws.send(draw(texts.map(lambda t: t.encode("utf-8", "replace").decode())))
        elif kind == "binary":
            ws.send(draw(st.binary(max_size=200)))
        elif kind == "huge":
            ws.send(b"x" * draw(st.sampled_from([64 * 1024, 1024 * 1024, 4 * 1024 * 1024])))
        elif kind == "not_utf8":
            with ws.send_context():  # a text frame whose bytes are not UTF-8 (RFC 6455 8.1: close 1007)
                ws.protocol.send_text(draw(st.sampled_from([b"\xff\xfe", b"\xed\xa0\x80", b"a\xc0"])))
        elif kind == "ping":
            ws.ping(draw(st.binary(max_size=125)))
        else:
            ws.send(orjson.dumps({"type": draw(texts), "since": draw(st.integers(-(2**63), 2**63 - 1))}))


@pytest.mark.parametrize("path", sorted(STREAMS))
def test_messages_never_break_the_socket(live: Live, path: str) -> None:
    role, kind = STREAMS[path]

    @settings(FUZZ, max_examples=EXAMPLES)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        headers = live.headers(role)
        with connect(live.server.ws_url + path, additional_headers=headers, open_timeout=10, max_size=2**22) as ws:
            try:
                _garbage(data.draw, ws)
                _gets_live_alert(ws, live, kind)
            except ConnectionClosed as exc:
                assert exc.rcvd is not None and exc.rcvd.code in PROPER, f"closed without a proper code: {exc}"

    run()
    with connect(live.server.ws_url + path, additional_headers=live.headers(role), open_timeout=10) as ws:
        _gets_live_alert(ws, live, kind)
    assert httpx.get(live.url + "/healthz", timeout=10).status_code == 200
