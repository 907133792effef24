"""The live path under faults, against real servers:
- Redis dies during a run of 500 alerts and comes back: every alert that got
  201 reaches every ops client and every resident it should, exactly once;
- a client that stops reading is closed once past its bound (4008), and the
  others' delivery is unaffected."""

from __future__ import annotations

import asyncio
import base64
import os
import random
import socket

import httpx
import pytest

from tests.conftest import free_port
from tests.e2e import embedded_env, production_env, server_factory
from tests.listeners import Listener, settle, start_all
from tests.redis_server import RedisServer
from tests.seed import seed
from tests.test_fanout_e2e import CITY, alert_oracle


@pytest.fixture
def throwaway_redis():
    try:
        server = RedisServer(free_port())
    except FileNotFoundError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("redis-server is not installed")
    with server:
        yield server


@pytest.mark.slow
async def test_redis_outage_loses_nothing(pg_url, throwaway_redis, bus_prefix, server_factory) -> None:
    env = production_env(pg_url, throwaway_redis.url, bus_prefix)
    a = server_factory(env)
    b = server_factory(env)
    rng = random.Random(5)
    residents, (ops_a, ops_b) = await seed(
        pg_url, CITY, [CITY.random_point(rng) for _ in range(200)], staff=["dispatcher", "supervisor"]
    )
    author = residents[0]
    listeners = [Listener((a if i % 2 else b).ws_url, "/ws/resident", r.token) for i, r in enumerate(residents)]
    ops = [Listener(a.ws_url, "/ws/ops", ops_a.token), Listener(b.ws_url, "/ws/ops", ops_b.token)]
    await start_all([*listeners, *ops])

    accepted = []
    async with httpx.AsyncClient(timeout=30, headers={"Authorization": f"Bearer {author.token}"}) as http:
        for i in range(500):
            if i == 150:
                throwaway_redis.stop()
            if i == 300:
                throwaway_redis.start()
            lat, lon = CITY.random_point(rng)
            server = a if i % 2 else b
            r = await http.post(server.url + "/api/alerts", json={"category": "theft", "lat": lat, "lon": lon})
            assert r.status_code == 201, r.text  # the store is up: Redis down must not refuse alerts
            accepted.append(r.json())
            await asyncio.sleep(0.005)
    await settle([*listeners, *ops], quiet=2.0, timeout=60)
    ids = [x["id"] for x in accepted]
    for o in ops:
        got = [i for _, i in o.received("alert.created")]
        assert got == ids, f"ops missing {set(ids) - set(got)}, duplicates {len(got) - len(set(got))}"
    for listener, home in zip(listeners, residents):
        expected = {x["id"] for x in accepted if alert_oracle(home, x)}
        got = [i for _, i in listener.received("alert.nearby")]
        assert len(got) == len(set(got)) and set(got) == expected
        seqs = [m["seq"] for m in listener.messages]
        assert seqs == sorted(seqs)
    await asyncio.gather(*(x.stop() for x in [*listeners, *ops]))


def _raw_resident(port: int, token: str) -> socket.socket:
    """A client that completes the handshake and then never reads, with a
    small receive window so the server's buffers fill quickly."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws/resident HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def _read_until_closed(sock: socket.socket, timeout: float) -> bytes:
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def _frames(data: bytes) -> list[tuple[int, bytes]]:
    """Unmasked server frames, up to the first incomplete one."""
    out, i = [], 0
    while i + 2 <= len(data):
        op, n = data[i] & 0x0F, data[i + 1] & 0x7F
        i += 2
        if n == 126:
            n, i = int.from_bytes(data[i : i + 2], "big"), i + 2
        elif n == 127:
            n, i = int.from_bytes(data[i : i + 8], "big"), i + 8
        if i + n > len(data):
            break
        out.append((op, data[i : i + n]))
        i += n
    return out


async def test_slow_client_is_closed_and_others_unaffected(tmp_path, server_factory) -> None:
    env = {**embedded_env(tmp_path), "DISPATCH_STREAM_SEND_QUEUE_BYTES": "65536"}
    server = server_factory(env)
    rng = random.Random(9)
    residents, (disp,) = await seed(
        env["DISPATCH_DATABASE_URL"], CITY, [CITY.random_point(rng) for _ in range(21)], staff=["dispatcher"]
    )
    slow = await asyncio.to_thread(_raw_resident, server.port, residents[0].token)
    others = [Listener(server.ws_url, "/ws/resident", r.token) for r in residents[1:]]
    await start_all(others)
    text = "Coupure d'eau prévue. " * 45  # about 1 KB a message
    sent = []
    async with httpx.AsyncClient(
        base_url=server.url, timeout=30, headers={"Authorization": f"Bearer {disp.token}"}
    ) as http:
        for i in range(600):
            r = await http.post("/api/broadcasts", json={"sectors": "all", "text": text[:990], "level": "info"})
            assert r.status_code == 201
            sent.append(r.json()["id"])
    await settle(others, quiet=1.0)
    for listener in others:
        assert [i for _, i in listener.received("broadcast")] == sent
    # the slow client was cut off: reading now ends (close frame 4008 then EOF,
    # or a reset) instead of blocking, and it got fewer than all messages
    data = await asyncio.to_thread(_read_until_closed, slow, 10.0)
    frames = _frames(data)
    texts = [p for op, p in frames if op == 0x1]
    assert len(texts) < len(sent)
    closes = [p for op, p in frames if op == 0x8]
    if closes:  # the server aborts a reader that never drains; if it got this far, the code is ours
        assert int.from_bytes(closes[0][:2], "big") == 4008
    slow.close()
    await asyncio.gather(*(x.stop() for x in others))
