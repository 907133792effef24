"""Everything the chaos bench runs on, started fresh and torn down after:
a PostgreSQL cluster and a redis-server of our own (so they can be killed),
seeded accounts, `dispatch serve --workers 2`, the stream clients (most in
this process, one ops and one resident in a child process), and the sender."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.chaos_check import Client
from bench.chaos_listen import ChildTallies, Listener, Tally
from bench.chaos_pg import PgCluster
from bench.common import REPO, free_port
from bench.httpc import HttpConn
from bench.layout import random_points
from bench.servers import HOST, Server, start_ours
from dispatch.core.model import Home
from geo import DEMO_CITY_PATH, City, load_city
from tests.redis_server import RedisServer
from tests.seed import Seeded, seed

RADIUS_M = 500.0
# The send bound for this run (the product's default is 1 MiB): with 64 KiB
# of kernel send buffer per socket (dispatch.live.frames.SOCKET_SNDBUF) the
# stopped client is dropped after ~100 KiB of frames, i.e. within seconds of
# the burst, instead of after minutes at a few alerts a second.
SEND_QUEUE_BYTES = 32 * 1024


@dataclass
class Sizes:
    residents: int  # listening residents, one of them in the child process
    ops: int  # ops clients, one of them in the child process
    authors: int  # residents who post (no socket)
    rate: float
    settle_s: float
    outage_s: float
    stop_s: float
    burst: int


@dataclass
class Rig:
    city: City
    pg: PgCluster
    redis: RedisServer
    server: Server
    clients: list[Client]
    child: subprocess.Popen[bytes]
    child_tallies: ChildTallies
    authors: list[tuple[int, str]]
    points: list[tuple[float, float]]
    stopped_home: Home
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    workdir: Path = Path()
    sender: Any = None  # bench.chaos_send.Sender, set once the stream starts

    def refresh(self) -> None:
        self.child_tallies.refresh()

    async def close(self) -> None:
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.child.poll() is None:
            self.child.kill()
            self.child.wait(5)
        self.server.stop()
        self.redis.close()
        await asyncio.to_thread(self.pg.close)


async def head_seq(port: int, token: str) -> int:
    """The head of the event sequence, from a staff session's /healthz
    (anonymous callers get the status alone)."""
    conn = await HttpConn.open(HOST, port)
    try:
        status, doc = await conn.json("GET", "/healthz", headers={"Authorization": f"Bearer {token}"})
    finally:
        conn.close()
    if status != 200 or "seq" not in doc:
        raise RuntimeError(f"/healthz answered {status}: {doc}")
    return int(doc["seq"])


def _tally(name: str, kind: str, s: Seeded, since: int) -> Tally:
    return Tally(name, kind, s.user_id, since)


def _home(s: Seeded) -> Home:
    assert s.lat is not None and s.lon is not None
    return Home(s.user_id, s.lat, s.lon, s.sector)


async def start(sizes: Sizes, log_dir: Path) -> Rig:
    city = load_city(DEMO_CITY_PATH)
    rng = np.random.default_rng(21)
    pg = PgCluster(free_port())
    await asyncio.to_thread(pg.init)
    await asyncio.to_thread(pg.start)
    redis = RedisServer(free_port())
    redis.start()
    la, lo, _ = random_points(city, rng, sizes.residents + sizes.authors)
    homes = list(zip(la.tolist(), lo.tolist()))
    residents, staff = await seed(pg.url, city, homes, staff=["dispatcher"] * sizes.ops)
    listeners, authors = residents[: sizes.residents], residents[sizes.residents :]
    pa, po, _ = random_points(city, rng, 2000)
    server = start_ours(
        "chaos",
        free_port(),
        log_dir,
        pg.url,
        redis.url,
        workers=2,
        radius_m=RADIUS_M,
        extra_env={"DISPATCH_STREAM_SEND_QUEUE_BYTES": str(SEND_QUEUE_BYTES)},
    )
    try:
        await server.wait_healthy(90.0)
        since = await head_seq(server.port, staff[0].token)
        clients, tasks = _local_clients(server.port, listeners[1:], staff[1:], since)
        child, child_tallies, child_clients = await _child(server.port, listeners[0], staff[0], since, log_dir)
    except BaseException:
        server.stop()
        redis.close()
        pg.close()
        raise
    return Rig(
        city,
        pg,
        redis,
        server,
        clients + child_clients,
        child,
        child_tallies,
        [(a.user_id, a.token) for a in authors],
        list(zip(pa.tolist(), po.tolist())),
        _home(listeners[0]),
        tasks,
        log_dir,
    )


def _local_clients(
    port: int, residents: list[Seeded], staff: list[Seeded], since: int
) -> tuple[list[Client], list[asyncio.Task[None]]]:
    clients: list[Client] = []
    tasks: list[asyncio.Task[None]] = []
    for i, s in enumerate(staff):
        tally = _tally(f"ops-{i + 1}", "ops", s, since)
        clients.append(Client(tally, None))
        tasks.append(asyncio.create_task(Listener(HOST, port, s.token, tally).run()))
    for i, s in enumerate(residents):
        tally = _tally(f"res-{i + 1}", "resident", s, since)
        clients.append(Client(tally, _home(s)))
        tasks.append(asyncio.create_task(Listener(HOST, port, s.token, tally).run()))
    return clients, tasks


async def _child(
    port: int, resident: Seeded, ops: Seeded, since: int, log_dir: Path
) -> tuple[subprocess.Popen[bytes], ChildTallies, list[Client]]:
    out = tempfile.NamedTemporaryFile(prefix="chaos-child-", suffix=".jsonl", dir=log_dir, delete=False)
    out.close()
    specs: list[dict[str, Any]] = [
        {"name": "ops-0 (child)", "kind": "ops", "user_id": ops.user_id, "token": ops.token, "since": since},
        {
            "name": "res-0 (child)",
            "kind": "resident",
            "user_id": resident.user_id,
            "token": resident.token,
            "since": since,
        },
    ]
    tallies = [Tally(s["name"], s["kind"], s["user_id"], since) for s in specs]
    argv = [sys.executable, "-m", "bench.chaos_listen", "--port", str(port), "--clients", json.dumps(specs)]
    proc = subprocess.Popen([*argv, "--out", out.name], cwd=REPO, stdout=subprocess.PIPE, start_new_session=True)
    assert proc.stdout is not None
    line = await asyncio.to_thread(proc.stdout.readline)
    if line.strip() != b"ready":
        raise RuntimeError(f"the client process did not start: {line!r}")
    clients = [Client(tallies[0], None), Client(tallies[1], _home(resident))]
    return proc, ChildTallies(out.name, tallies), clients


async def connected(rig: Rig, timeout: float = 30.0) -> None:
    """Until every client has opened its socket once."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        rig.refresh()
        if all(c.tally.connects for c in rig.clients):
            return
        await asyncio.sleep(0.1)
    late = [c.tally.name for c in rig.clients if not c.tally.connects]
    raise RuntimeError(f"clients not connected after {timeout:.0f} s: {late}")
