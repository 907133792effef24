"""HTTP load process for the ingest bench: keep-alive connections POSTing
alerts during a fixed window, in one of two modes.

* Closed loop: each connection POSTs back to back; measures saturation
  throughput (its latency is about connections / throughput, Little's law).
* Open loop (fixed rate): connection k sends request n at its scheduled time
  t_n = start + phases[k] + n * interval. HTTP/1.1 on one connection is
  sequential, so if the previous answer has not come by t_n the request goes
  out as soon as it has, but its latency is still counted from t_n: the
  coordinated-omission correction (a stalled server cannot hide the requests
  it held back by delaying their sending). Answers to requests scheduled in
  the window are awaited up to GRACE_S after it, so their latencies are not
  hidden; throughput counts only what was answered inside the window.

One process per slice of the connections, so the load side has CPU of its
own; each reports its CPU seconds so the report can show it was not the
bottleneck."""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from multiprocessing.connection import Connection
from typing import Any

import orjson

from bench.client import cpu_now
from bench.common import raise_fd_limit
from bench.httpc import HttpConn

WARMUP_REQUESTS = 2  # per connection, before the window: sessions cached, code paths warm
LATE_S = 0.001  # open loop: a request sent more than this after its scheduled time is a late send
GRACE_S = 5.0  # open loop: a request scheduled in the window and unanswered this long after it is an error

Schedule = tuple[float, list[float]]  # open loop: (interval between one connection's sends, phase of each connection)


async def _run(
    pipe: Connection,
    host: str,
    port: int,
    tokens: list[str],
    points: list[tuple[float, float]],
    duration: float,
    max_requests: int,
    schedule: Schedule | None,
) -> dict[str, Any]:
    conns = [await HttpConn.open(host, port) for _ in tokens]
    status: Counter[int] = Counter()
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    tally: Counter[str] = Counter()  # accepted (201 inside the window); open loop: scheduled, late, outstanding

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
                    tally["accepted"] += 1
            i += 1

    async def paced_lane(k: int, interval: float, phase: float) -> None:
        """Sends every request scheduled inside the window, then stops. `outstanding`:
        those not answered by the window's end; still unanswered at end + GRACE_S
        (in flight, or never sent), they are errors."""
        headers = {"Authorization": f"Bearer {tokens[k]}"}
        count = math.ceil((duration - phase) / interval) if phase < duration else 0
        tally["scheduled"] += count
        deadline = end + GRACE_S
        for n in range(count):
            due = start_at + phase + n * interval
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            sent = time.monotonic()  # uvloop's timers (1 ms ticks) may fire up to ~1 ms early
            if sent >= deadline:
                errors["unsent"] += count - n
                tally["outstanding"] += count - n
                return
            if sent - due > LATE_S:
                tally["late"] += 1
            try:
                code, _ = await conns[k].request(
                    "POST", "/api/alerts", body(k * 7919 + n), headers, timeout=deadline - sent
                )
            except Exception as exc:  # counted: still pending at the deadline, or a reset
                errors[type(exc).__name__] += 1
                if count - n > 1:
                    errors["unsent"] += count - n - 1
                tally["outstanding"] += count - n
                return
            t1 = time.monotonic()
            status[code] += 1
            if code == 201:
                latencies.append(t1 - min(due, sent))  # from the schedule if sent late: not from the send
            if t1 > end:
                tally["outstanding"] += 1  # its latency counts, its throughput does not
            elif code == 201:
                tally["accepted"] += 1

    if schedule is None:
        await asyncio.gather(*(lane(k) for k in range(len(conns))))
    else:
        interval, phases = schedule
        await asyncio.gather(*(paced_lane(k, interval, phases[k]) for k in range(len(conns))))
    cpu = cpu_now() - cpu0
    for c in conns:
        c.close()
    return {
        "status": dict(status),
        "latencies": latencies,
        "errors": dict(errors),
        "cpu_s": cpu,
        **{key: tally[key] for key in ("accepted", "scheduled", "late", "outstanding")},
    }


def main(
    pipe: Connection,
    host: str,
    port: int,
    tokens: list[str],
    points: list[tuple[float, float]],
    duration: float,
    max_requests: int,
    schedule: Schedule | None = None,
) -> None:
    """schedule None: closed loop; else the open loop's (interval, phase per connection), in seconds."""
    raise_fd_limit()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    try:
        result = asyncio.run(_run(pipe, host, port, tokens, points, duration, max_requests, schedule))
        pipe.send(("done", result))
    except Exception as exc:
        pipe.send(("error", f"{type(exc).__name__}: {exc}"))
