"""A resume whose backlog is larger than the send bound: the replay waits
for the client to read instead of going live past what it has not sent.

bench/chaos.py found it: an ops client SIGSTOPped through a burst resumed
with ?since= and lost 94 alerts, because the replay stopped at the bound
(stream.send_queue_bytes) and the connection went live above the gap."""

from __future__ import annotations

import asyncio
import socket

import httpx
import orjson
from websockets.asyncio.client import connect

from tests.e2e import embedded_env, server_factory
from tests.seed import seed
from tests.test_fanout_e2e import CITY

BOUND = 16 * 1024
TEXT = "Coupure d'eau prévue dans le quartier. " * 25  # about 1 KB a message


async def test_a_backlog_past_the_bound_is_replayed_whole_to_a_slow_reader(tmp_path, server_factory) -> None:
    env = {**embedded_env(tmp_path), "DISPATCH_STREAM_SEND_QUEUE_BYTES": str(BOUND)}
    server = server_factory(env)
    _, (disp,) = await seed(env["DISPATCH_DATABASE_URL"], CITY, [], staff=["dispatcher"])
    async with httpx.AsyncClient(
        base_url=server.url, timeout=30, headers={"Authorization": f"Bearer {disp.token}"}
    ) as http:
        since = (await http.get("/healthz")).json()["seq"]
        sent = []
        for _ in range(300):  # ~300 KB: past the bound and the kernel's buffers
            r = await http.post("/api/broadcasts", json={"sectors": "all", "text": TEXT[:990], "level": "info"})
            assert r.status_code == 201
            sent.append(r.json()["id"])

    # a small receive window, and a reader that takes its time
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
    got: list[int] = []
    seqs: list[int] = []
    async with connect(
        f"{server.ws_url}/ws/ops?since={since}",
        sock=sock,
        additional_headers={"Authorization": f"Bearer {disp.token}"},
        compression=None,
        max_queue=4,
    ) as ws:

        async def read() -> None:
            async for raw in ws:
                msg = orjson.loads(raw)
                seqs.append(msg["seq"])
                if msg["type"] == "broadcast.sent":
                    got.append(msg["data"]["id"])
                    if len(got) == len(sent):
                        return
                await asyncio.sleep(0.002)

        try:
            await asyncio.wait_for(read(), 30)
        except TimeoutError:
            pass
        assert ws.close_code is None, f"closed with {ws.close_code} after {len(got)} of {len(sent)}"
    assert got == sent, f"{len(got)} of {len(sent)} replayed"
    assert seqs == sorted(set(seqs))
