"""HTTP load process for the ingest bench: keep-alive connections, each
POSTing alerts back to back (closed loop) during a fixed window.

One process per slice of the connections, so the load side has CPU of its
own; each reports its CPU seconds so the report can show it was not the
bottleneck."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from multiprocessing.connection import Connection
from typing import Any

import orjson

from bench.client import cpu_now
from bench.common import raise_fd_limit
from bench.httpc import HttpConn

WARMUP_REQUESTS = 2  # per connection, before the window: sessions cached, code paths warm


async def _run(pipe: Connection, host: str, port: int, tokens: list[str], points: list[tuple[float, float]],
               duration: float, max_requests: int) -> dict[str, Any]:
    conns = [await HttpConn.open(host, port) for _ in tokens]
    status: Counter[int] = Counter()
    latencies: list[float] = []
    errors: Counter[str] = Counter()

    def body(i: int) -> bytes:
        lat, lon = points[i % len(points)]
        return orjson.dumps({"category": "burglary", "lat": lat, "lon": lon, "text": "bench ingest"})

    async def warm(k: int) -> None:
        for i in range(WARMUP_REQUESTS):
            await conns[k].request("POST", "/api/alerts", body(k + i), {"Authorization": f"Bearer {tokens[k]}"})

    await asyncio.gather(*(warm(k) for k in range(len(conns))))
    pipe.send(("ready", None))
    start_at = pipe.recv()  # the parent's go: a shared CLOCK_MONOTONIC instant
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    end = start_at + duration
    cpu0 = cpu_now()

    async def lane(k: int) -> None:
        headers = {"Authorization": f"Bearer {tokens[k]}"}
        i = k * 7919
        while time.monotonic() < end and sum(status.values()) < max_requests:
            t0 = time.monotonic()
            try:
                code, _ = await conns[k].request("POST", "/api/alerts", body(i), headers, timeout=max(5.0, duration))
            except Exception as exc:  # counted: a timeout or a reset is a failed request
                errors[type(exc).__name__] += 1
                return
            t1 = time.monotonic()
            if t1 <= end:  # only what completed inside the window counts
                status[code] += 1
                if code == 201:
                    latencies.append(t1 - t0)
            i += 1

    await asyncio.gather(*(lane(k) for k in range(len(conns))))
    cpu = cpu_now() - cpu0
    for c in conns:
        c.close()
    return {"status": dict(status), "latencies": latencies, "errors": dict(errors), "cpu_s": cpu}


def main(pipe: Connection, host: str, port: int, tokens: list[str], points: list[tuple[float, float]],
         duration: float, max_requests: int) -> None:
    raise_fd_limit()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    try:
        result = asyncio.run(_run(pipe, host, port, tokens, points, duration, max_requests))
        pipe.send(("done", result))
    except Exception as exc:
        pipe.send(("error", f"{type(exc).__name__}: {exc}"))
