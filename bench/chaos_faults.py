"""The four faults, each a coroutine that breaks something, waits, repairs
it (or lets the product repair itself) and returns what it saw. Each is
timed by the caller: the fault's window runs from its start to its end."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.chaos_rig import Rig, Sizes
from bench.layout import random_points
from bench.servers import Server


def workers(server: Server) -> list[int]:
    """uvicorn's worker processes: the serve process's children that run
    multiprocessing's spawn entry point (not its resource tracker)."""
    out = []
    for pid in server.pids()[1:]:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"multiprocessing.spawn" in cmd or b"spawn_main" in cmd:
            out.append(pid)
    return out


async def kill_redis(rig: Rig, sizes: Sizes) -> dict[str, Any]:
    rig.redis.stop()  # SIGKILL, then waits until the port refuses connections
    await asyncio.sleep(sizes.outage_s)
    rig.redis.start()  # same port, empty: pub/sub subscriptions are gone too
    return {"outage_s": sizes.outage_s}


def _sockets(pid: int) -> int:
    """Open sockets of a process (its clients', the pool's, the bus's)."""
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return 0
    n = 0
    for fd in fds:
        try:
            n += os.readlink(fd).startswith("socket:")
        except OSError:
            pass
    return n


def startups(server: Server) -> int:
    """Workers that finished their lifespan start-up, by uvicorn's own log line."""
    try:
        return server.log_path.read_text(errors="replace").count("Application startup complete.")
    except OSError:
        return 0


async def kill_worker(rig: Rig, sizes: Sizes) -> dict[str, Any]:
    before = workers(rig.server)
    if not before:
        return {"error": "no worker process found"}
    started = startups(rig.server)
    victim = max(before, key=_sockets)  # the busier one: a kill that cuts no client proves little
    os.kill(victim, signal.SIGKILL)
    t0 = time.monotonic()
    # uvicorn >= 0.30 supervises its workers (uvicorn.supervisors.multiprocess):
    # a dead one is replaced. The fault lasts until the replacement has run
    # its start-up and serves, up to 60 s (spawning and importing takes
    # seconds on this loaded machine).
    respawned = serving = None
    while time.monotonic() - t0 < 60.0 and serving is None:
        if respawned is None and len([p for p in workers(rig.server) if p != victim]) >= len(before):
            respawned = time.monotonic() - t0
        if startups(rig.server) > started:
            serving = time.monotonic() - t0
        await asyncio.sleep(0.1)
    return {"killed": victim, "workers": len(before), "respawned_after_s": respawned, "serving_after_s": serving}


async def restart_postgres(rig: Rig, sizes: Sizes) -> dict[str, Any]:
    await asyncio.to_thread(rig.pg.stop, "immediate")
    await asyncio.sleep(sizes.outage_s)
    t0 = time.monotonic()
    await asyncio.to_thread(rig.pg.start)
    return {"outage_s": sizes.outage_s, "start_s": time.monotonic() - t0}


async def stop_client(rig: Rig, sizes: Sizes) -> dict[str, Any]:
    """SIGSTOP the child process (one ops client, one resident): its
    sockets stop being read while the alerts keep coming (the caller adds a
    burst), until the server closes them as too slow; then SIGCONT."""
    os.kill(rig.child.pid, signal.SIGSTOP)
    await asyncio.sleep(0.5)
    # a burst in the stopped resident's sector: both its sockets (ops sees
    # every alert) fall behind by more than the send bound
    la, lo, _ = random_points(rig.city, np.random.default_rng(7), sizes.burst, sector=rig.stopped_home.sector)
    rig.sender.burst(list(zip(la.tolist(), lo.tolist())))
    await asyncio.sleep(sizes.stop_s)
    os.kill(rig.child.pid, signal.SIGCONT)
    return {"stopped_s": sizes.stop_s}


FAULTS = {
    "redis kill -9": kill_redis,
    "worker kill -9": kill_worker,
    "postgres restart": restart_postgres,
    "client SIGSTOP": stop_client,
}
