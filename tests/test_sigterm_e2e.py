"""Issue 21: a graceful restart. SIGTERM to the server (one worker; the
supervisor of two; one worker of two) while 50 residents and ops clients are
connected and 30 alert posts are in flight, their bodies still arriving:
every in-flight request gets its full answer and every 201 is stored, every
socket of the stopping worker is closed at once with 1012, the worker exits
within uvicorn's graceful timeout, and the clients resume with ?since= and
miss nothing."""

from __future__ import annotations

import asyncio
import collections
import os
import random
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
import websockets

from tests.e2e import production_env, server_factory
from tests.listeners import Listener, settle, start_all
from tests.seed import seed
from tests.test_fanout_e2e import CITY
from tests.test_faults_e2e import throwaway_redis

IN_FLIGHT = 30
# SIGTERM this long after every request's head is on the wire: the worker has
# read them (a connection whose head it has not read yet is closed unanswered
# by uvicorn, as an idle one: the client sees it refused, not cut)
READ_HEADS_S = 0.5
CLOSE_BOUND_S = 1.5  # 1012 on every socket this soon after SIGTERM, not after the 5 s timeout
EXIT_BOUND_S = 5 + 3  # serve.py: timeout_graceful_shutdown=5, plus the lifespan's stop


def _workers(pid: int) -> list[int]:
    """The uvicorn worker processes under supervisor `pid` (multiprocessing
    spawn children; not its resource tracker)."""
    out = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        cmd = Path(f"/proc/{child}/cmdline").read_bytes()
        if b"multiprocessing" in cmd and b"resource_tracker" not in cmd:
            out.append(int(child))
    return out


def _connections(pid: int, port: int) -> int:
    """Established TCP connections to `port` that process `pid` holds."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    n = 0
    for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        cols = line.split()
        if cols[1].endswith(f":{port:04X}") and cols[3] == "01" and cols[9] in inodes:
            n += 1
    return n


def _busiest_worker(pid: int, port: int) -> int:
    """The worker that holds the most of the test's connections."""
    counts = {w: _connections(w, port) for w in _workers(pid)}
    victim = max(counts, key=lambda w: counts[w])
    assert counts[victim] > 0, counts
    return victim


def _exited(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return True
    return status == "Z"


class Bodies:
    """The in-flight posts' bodies: the head and a first chunk go out at
    once, the rest only when `release` is set (after the SIGTERM)."""

    def __init__(self) -> None:
        self.started = 0
        self.release = asyncio.Event()

    async def slow(self, body: dict[str, Any]) -> AsyncIterator[bytes]:
        raw = orjson.dumps(body)
        yield raw[:10]
        self.started += 1  # httpx asks for more: the head and first chunk are on the wire
        await self.release.wait()
        yield raw[10:]


async def _post_slowly(url: str, token: str, body: AsyncIterator[bytes]) -> httpx.Response:
    # a client of its own each: one connection per request, each in flight
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(
            url + "/api/alerts",
            content=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )


async def _racing_handshake(url: str, token: str, delay: float) -> int | str:
    """A stream opened around the SIGTERM: how it ended. A 1012, a 503, a
    refused connection, or (on the worker that stays) still open: never a 500."""
    await asyncio.sleep(delay)
    try:
        async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
            async with asyncio.timeout(3):
                while True:
                    await ws.recv()
    except websockets.InvalidStatus as exc:
        return exc.response.status_code
    except websockets.ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd is not None else "no close frame"
    except TimeoutError:
        return "open"
    except (OSError, websockets.InvalidHandshake):
        return "refused"  # the listening socket closed before this one was read


def _created(r: httpx.Response | BaseException) -> bool:
    """Answered whole: 201 and a complete JSON body."""
    return isinstance(r, httpx.Response) and r.status_code == 201 and r.json()["id"] > 0


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _stored_ids(pg_url: str) -> set[int]:
    con = await asyncpg.connect(pg_url)
    try:
        return {r["id"] for r in await con.fetch("SELECT id FROM alerts")}
    finally:
        await con.close()


@pytest.mark.slow
@pytest.mark.parametrize("case", ["one worker", "supervisor of two", "one worker of two"])
async def test_sigterm_finishes_requests_and_closes_with_1012(
    case: str, pg_url, redis_url, bus_prefix, server_factory
) -> None:
    workers = 1 if case == "one worker" else 2
    rng = random.Random(12)
    residents, staff = await seed(pg_url, CITY, [CITY.random_point(rng) for _ in range(50)], staff=["dispatcher"] * 2)
    env = production_env(pg_url, redis_url, bus_prefix)
    server = server_factory(env, workers=workers)
    author = residents[0]
    sockets = [Listener(server.ws_url, "/ws/resident", r.token) for r in residents]
    sockets += [Listener(server.ws_url, "/ws/ops", s.token) for s in staff for _ in range(3)]
    await start_all(sockets)
    await asyncio.sleep(0.5)  # the handshakes' tasks are running their loops

    bodies = Bodies()
    posts = []
    for _ in range(IN_FLIGHT):
        lat, lon = CITY.random_point(rng)
        body = bodies.slow({"category": "theft", "lat": lat, "lon": lon})
        posts.append(asyncio.create_task(_post_slowly(server.url, author.token, body)))
    while bodies.started < IN_FLIGHT:
        await asyncio.sleep(0.02)
    await asyncio.sleep(READ_HEADS_S)
    assert server.proc is not None
    pid = server.proc.pid
    victim = pid if workers == 1 or case == "supervisor of two" else _busiest_worker(pid, server.port)
    racing = [
        asyncio.create_task(_racing_handshake(server.ws_url + "/ws/resident", r.token, k * 0.01))
        for k, r in enumerate(residents[:30])
    ]
    await asyncio.sleep(0.1)
    t0 = time.monotonic()
    os.kill(victim, signal.SIGTERM)

    # every socket of the stopping worker(s) sees 1012 at once, while the
    # requests are still in flight (not after the 5 s graceful timeout)
    everyone = case != "one worker of two"
    while time.monotonic() - t0 < CLOSE_BOUND_S and not (everyone and all(s.closes for s in sockets)):
        await asyncio.sleep(0.05)
    closed = [s for s in sockets if s.closes]
    print(f"{case}: {len(closed)} sockets closed within {time.monotonic() - t0:.2f} s of SIGTERM")
    assert closed, "no socket was closed"
    assert {c for s in closed for c in s.closes} == {1012}, [s.closes for s in closed]
    if everyone:
        assert len(closed) == len(sockets), f"{len(sockets) - len(closed)} sockets still open"

    bodies.release.set()
    outcomes = await asyncio.gather(*posts, return_exceptions=True)
    failed = [repr(r) if isinstance(r, BaseException) else r.text for r in outcomes if not _created(r)]
    assert not failed, f"{len(failed)} of {IN_FLIGHT} in-flight requests not answered whole: {failed[:3]}"
    answers = [r for r in outcomes if isinstance(r, httpx.Response)]
    ends = await asyncio.gather(*racing)
    allowed = {1012, 503, "refused"} | ({"open"} if not everyone else set())
    print(f"{case}: streams opened around the SIGTERM: {collections.Counter(ends)}")
    assert set(ends) <= allowed, ends

    while not _exited(victim):
        assert time.monotonic() - t0 < EXIT_BOUND_S, "the worker did not exit within the graceful timeout"
        await asyncio.sleep(0.05)
    print(f"{case}: exited {time.monotonic() - t0:.2f} s after SIGTERM")
    stored = await _stored_ids(pg_url)
    assert {r.json()["id"] for r in answers} <= stored

    # the clients come back with ?since= and miss nothing
    if case != "one worker of two":
        server.stop()
        server.start()
    else:  # the supervisor starts a new worker; the other one serves meanwhile
        await asyncio.sleep(0.5)
    await asyncio.gather(*(s.resume() for s in closed))
    async with httpx.AsyncClient(timeout=20, headers={"Authorization": f"Bearer {author.token}"}) as http:
        lat, lon = CITY.random_point(rng)
        r = await http.post(server.url + "/api/alerts", json={"category": "theft", "lat": lat, "lon": lon})
        assert r.status_code == 201, r.text
        last = r.json()["id"]
    await settle(sockets, quiet=1.5, timeout=30)
    expected = sorted([*(a.json()["id"] for a in answers), last])
    for s in sockets[len(residents) :]:  # ops: every alert once, across the restart
        got = [i for _, i in s.received("alert.created")]
        assert sorted(got) == expected, f"missing {set(expected) - set(got)}, duplicates {len(got) - len(set(got))}"
    await asyncio.gather(*(s.stop() for s in sockets))


async def test_a_handshake_under_way_at_sigterm_is_told_503(
    pg_url, throwaway_redis, bus_prefix, server_factory
) -> None:
    """A handshake the endpoint is still answering when SIGTERM comes (here:
    held by a paused Redis, up to the bus's 2 s SUBSCRIBE wait) is refused
    with 503 and Retry-After, not uvicorn's 500 (dispatch/live/frames.py)."""
    (resident,), _ = await seed(pg_url, CITY, [CITY.random_point(random.Random(4))])
    server = server_factory(production_env(pg_url, throwaway_redis.url, bus_prefix))
    throwaway_redis.pause()
    try:
        url = server.ws_url + "/ws/resident"
        handshake = asyncio.ensure_future(websockets.connect(url, additional_headers=_h(resident.token)))
        await asyncio.sleep(0.5)
        assert server.proc is not None
        os.kill(server.proc.pid, signal.SIGTERM)
        with pytest.raises(websockets.InvalidStatus) as refused:
            await handshake
    finally:
        throwaway_redis.resume()
    assert refused.value.response.status_code == 503
    assert int(refused.value.response.headers["Retry-After"]) > 0
