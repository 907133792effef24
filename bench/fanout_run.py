"""One fan-out measurement: one server, N resident connections.

Latency of an alert = (latest arrival among its intended recipients, stamped
by the client processes) - (parent's time.monotonic() just before the POST
is written). Both clocks are CLOCK_MONOTONIC, shared by every process."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.clients import ClientPool
from bench.common import free_port, summary_ms
from bench.httpc import HttpConn
from bench.layout import Alert, Layout
from bench.procstat import machine_busy_cores, machine_jiffies
from bench.servers import HOST, Server

SETTLE_S = 1.0  # after the connections open, before reading RSS: let handshakes' garbage go


@dataclass
class Target:
    name: str
    kind: str  # "floor" | "naive" | "ours"
    start: Callable[[int, Path, Path | None], Server]  # (port, log dir, py-spy output or None)
    tokens: Sequence[str] | None  # bearer token of connection i (None: the floor needs none)
    author: str | None  # bearer token for POST /api/alerts
    workers: int = 1


@dataclass
class Plan:
    sector_alerts: list[Alert]
    radius_alerts: list[Alert]
    burst_deliveries: int  # burst size K = this / N, clamped
    log_dir: Path
    bursts: int = 3  # best of: a neighbour's CPU spike only ever slows a burst down
    profile_dir: Path | None = None
    wait_timeout: float = 15.0


def _body(alert: Alert, i: int) -> dict[str, Any]:
    return {"category": "burglary", "lat": alert.lat, "lon": alert.lon, "text": f"bench {i}"}


class Poster:
    def __init__(self, conns: list[HttpConn], author: str | None) -> None:
        self.conns = conns
        self.headers = {"Authorization": f"Bearer {author}"} if author else {}

    @classmethod
    async def open(cls, port: int, author: str | None, n: int = 16) -> Poster:
        return cls([await HttpConn.open(HOST, port) for _ in range(n)], author)

    async def post(self, alert: Alert, i: int, conn: int = 0) -> dict[str, Any]:
        status, doc = await self.conns[conn].json("POST", "/api/alerts", _body(alert, i), self.headers)
        if status not in (200, 201):
            raise RuntimeError(f"POST /api/alerts -> {status}: {doc}")
        return doc  # type: ignore[no-any-return]

    def close(self) -> None:
        for c in self.conns:
            c.close()

    async def reopen(self, port: int) -> None:
        """Fresh connections: uvicorn closes keep-alive links idle for 5 s,
        and opening 19k WebSockets takes longer than that."""
        n = len(self.conns)
        self.close()
        self.conns = [await HttpConn.open(HOST, port) for _ in range(n)]


async def _rounds(
    pool: ClientPool,
    poster: Poster,
    layout: Layout,
    n: int,
    alerts: list[Alert],
    timeout: float,
    on_round: Callable[[], None],
) -> dict[str, Any]:
    """Sequential alerts, each waited for until its last recipient has it."""
    lat: list[float] = []
    post: list[float] = []
    incomplete = extra = audience = 0
    for i, alert in enumerate(alerts):
        key = "all" if alert.kind == "sector" else f"r{i}"
        if key != "all":
            await pool.expect(key, layout.audience(alert, n))
        t0 = time.monotonic()
        doc = await poster.post(alert, i)
        post.append(time.monotonic() - t0)
        res = (await pool.wait([int(doc["id"])], key, timeout))[int(doc["id"])]
        audience += int(res["want"])
        extra += int(res["extra"])
        if res["got"] < res["want"]:
            incomplete += 1
        elif res["want"]:
            lat.append(res["t_last"] - t0)
        on_round()
        await asyncio.sleep(0.01)  # let the server finish its own bookkeeping
    out: dict[str, Any] = {
        **summary_ms(lat),
        "post_p50_ms": summary_ms(post)["p50_ms"],
        "incomplete": incomplete,
        "extra": extra,
        "mean_audience": audience / max(1, len(alerts)),
    }
    out["latencies_ms"] = [x * 1e3 for x in lat]
    return out


async def _burst(pool: ClientPool, poster: Poster, srv: Server, alerts: list[Alert], timeout: float) -> dict[str, Any]:
    """A burst: K sector alerts (audience: every connection) posted by the
    poster's 16 connections at once, each posting its share back to back;
    deliveries per second from the first POST to the last delivery, and the
    server's CPU over that window."""
    cpu0, ccpu0 = srv.cpu(), await pool.cpu()
    m0 = machine_jiffies()
    t0 = time.monotonic()
    lanes = len(poster.conns)

    async def lane(k: int) -> list[int]:
        return [int((await poster.post(a, 10_000 + i, k))["id"]) for i, a in enumerate(alerts) if i % lanes == k]

    ids = [aid for part in await asyncio.gather(*(lane(k) for k in range(lanes))) for aid in part]
    res = await pool.wait(ids, "all", timeout)
    cpu1, ccpu1 = srv.cpu(), await pool.cpu()
    m1 = machine_jiffies()
    got = sum(int(r["got"]) for r in res.values())
    want = sum(int(r["want"]) for r in res.values())
    t_end = max((r["t_last"] for r in res.values() if r["got"]), default=math.nan)
    wall = t_end - t0
    client_util = [(b - a) / wall for a, b in zip(ccpu0, ccpu1)] if wall > 0 else []
    return {
        "burst_alerts": len(alerts),
        "deliveries": got,
        "missing": want - got,
        "deliveries_per_s": got / wall if wall > 0 else math.nan,
        "burst_s": wall,
        "cpu_s_per_1k": (cpu1 - cpu0) / got * 1e3 if got else math.nan,
        "server_cpu_util": (cpu1 - cpu0) / wall if wall > 0 else math.nan,
        # whole machine, softirq included: ~2.0 means both cores were busy
        "machine_busy_cores": machine_busy_cores(m0, m1),
        "client_cpu_util_max": max(client_util, default=math.nan),
        "client_cpu_util_sum": sum(client_util),
        # frames the client processes ingest per second of their own CPU
        "client_frames_per_cpu_s": got / (sum(ccpu1) - sum(ccpu0)) if sum(ccpu1) > sum(ccpu0) else math.nan,
    }


async def measure(
    target: Target, n: int, pool: ClientPool, layout: Layout, plan: Plan, on_round: Callable[[], None] = lambda: None
) -> dict[str, Any]:
    port = free_port()
    spy = None
    if plan.profile_dir is not None and target.kind == "ours":
        spy = plan.profile_dir / f"profile-{target.name}-{n}.txt"
    srv = target.start(port, plan.log_dir, spy)
    row: dict[str, Any] = {"target": target.name, "subscribers": n, "workers": target.workers}
    try:
        await srv.wait_healthy()
        poster = await Poster.open(port, target.author)
        try:
            await poster.post(plan.sector_alerts[0], -1)  # warm the code paths before the idle RSS
            await asyncio.sleep(0.5)
            rss0 = srv.rss_kb()
            headers = [{"Authorization": f"Bearer {t}"} for t in target.tokens[:n]] if target.tokens else [{}] * n
            opened = await pool.connect(HOST, port, "/ws/resident", headers)
            row.update(connected=opened["ok"], connect_failed=opened["failed"], connect_s=opened["seconds"])
            if opened["errors"]:
                row["connect_errors"] = opened["errors"]
            await asyncio.sleep(SETTLE_S)
            row["rss_per_conn_kb"] = (srv.rss_kb() - rss0) / max(1, opened["ok"])
            await pool.expect("all", range(n))
            await poster.reopen(port)
            sector = await _rounds(pool, poster, layout, n, plan.sector_alerts, plan.wait_timeout, on_round)
            row.update({f"sector_{k}": v for k, v in sector.items()})
            if target.kind != "floor":  # the floor has no audience: radius alerts mean nothing there
                radius = await _rounds(pool, poster, layout, n, plan.radius_alerts, plan.wait_timeout, on_round)
                row.update({f"radius_{k}": v for k, v in radius.items()})
            k = max(5, min(200, plan.burst_deliveries // n))
            burst_alerts = (plan.sector_alerts * (k // len(plan.sector_alerts) + 1))[:k]
            timeout = min(180.0, max(20.0, k * n / 4000))
            bursts = [await _burst(pool, poster, srv, burst_alerts, timeout) for _ in range(plan.bursts)]
            best = max(
                bursts, key=lambda b: b["deliveries_per_s"] if b["deliveries_per_s"] == b["deliveries_per_s"] else -1
            )
            row.update(best)
            row["burst_rates"] = [b["deliveries_per_s"] for b in bursts]
            row["missing"] = sum(b["missing"] for b in bursts)
            on_round()
        finally:
            poster.close()
        status = await pool.status()
        row.update(lost=status["lost"], close_codes=status["closes"])
    except Exception as exc:
        tail = "\n".join(ln for ln in srv.log_tail(400).splitlines() if "connection " not in ln)[-1500:]
        row["error"] = f"{type(exc).__name__}: {exc}"[:500] + ("\nserver log:\n" + tail if tail else "")
    finally:
        try:
            await pool.close_all()
        except Exception as exc:  # keep the first error; this one is its echo
            row.setdefault("error", f"closing clients: {type(exc).__name__}: {exc}")
        finally:  # even on Ctrl-C: never leave a server behind
            srv.stop()
    return row
