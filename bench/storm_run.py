"""One reconnect storm: N residents connected, the server restarted, alerts
posted in the gap, then every resident back at the same instant.

Steps, for each target (ours or the bare baseline), on the same clients:
1. start the server, open N connections (bounded, untimed: not the storm);
2. ours: post one sector alert that reaches all N, so each has a last seq;
3. SIGTERM (the process group, as systemd would), count the close codes;
4. start it again; ours: post `gap` sector alerts, which nobody is connected for;
5. at one CLOCK_MONOTONIC instant every client process opens all its
   connections at once with `?since=<last seq>`: no jitter, no bound;
6. wait until every connection is open and holds every gap alert.

Handshake rate = upgrades completed / (last 101 - storm start); time to
whole = (the later of the last 101 and the last gap alert's arrival at its
last recipient) - storm start."""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path
from typing import Any

from bench.clients import ClientPool
from bench.common import free_port, percentile
from bench.fanout_run import Poster, Target
from bench.layout import Alert
from bench.procstat import machine_busy_cores, machine_jiffies
from bench.servers import HOST, Server

START_LEAD_S = 0.5  # the storm instant is this far ahead, so every client process is asleep waiting for it
STORM_TIMEOUT_S = 60.0  # per connection: connect + upgrade
WHOLE_TIMEOUT_S = 60.0


async def _connect_all(pool: ClientPool, port: int, headers: list[dict[str, str]]) -> dict[str, Any]:
    opened = await pool.connect(HOST, port, "/ws/resident", headers)
    if opened["failed"]:
        raise RuntimeError(f"initial connect: {opened['failed']} failed: {opened['errors']}")
    return opened


async def _restart(
    pool: ClientPool, srv: Server, target: Target, port: int, log_dir: Path, spy: Path | None
) -> tuple[Server, dict[str, Any]]:
    t0 = time.monotonic()
    srv.stop()
    stop_s = time.monotonic() - t0
    await asyncio.sleep(0.5)  # the last close frames reach the clients
    status = await pool.status()
    srv2 = target.start(port, log_dir, spy)
    await srv2.wait_healthy()
    out = {
        "stop_s": stop_s,
        "restart_s": time.monotonic() - t0,
        "old_close_codes": status["closes"],
        "old_no_close_frame": max(0, status["lost"] - sum(status["closes"].values())),
    }
    return srv2, out


async def _storm(pool: ClientPool, port: int, headers: list[dict[str, str]]) -> tuple[float, dict[str, Any]]:
    parts: list[list[tuple[int, dict[str, str]]]] = [[] for _ in range(pool.procs)]
    for i, h in enumerate(headers):
        parts[i % pool.procs].append((i, h))
    start_at = time.monotonic() + START_LEAD_S
    msgs = [("storm", (HOST, port, "/ws/resident", part, start_at, STORM_TIMEOUT_S)) for part in parts]
    res = await pool.call(msgs)
    lat = [x for r in res for x in r["handshake_s"]]
    errors: dict[str, int] = {}
    for r in res:
        for e, k in r["errors"].items():
            errors[e] = errors.get(e, 0) + k
    ok = sum(r["ok"] for r in res)
    last = max(r["last_open"] for r in res)
    span = last - start_at if ok else math.nan
    return start_at, {
        "reconnected": ok,
        "refused": sum(r["failed"] for r in res),
        "errors": errors,
        "without_since": sum(r["without_since"] for r in res),
        "handshakes_per_s": ok / span if span and span > 0 else math.nan,
        "handshake_p50_ms": percentile(lat, 50) * 1e3,
        "handshake_p99_ms": percentile(lat, 99) * 1e3,
        "handshake_max_ms": percentile(lat, 100) * 1e3,
        "all_open_s": span,
        "_last_open": last,
    }


async def measure(
    target: Target, n: int, pool: ClientPool, warm: Alert, gap: list[Alert], log_dir: Path, spy: Path | None
) -> dict[str, Any]:
    port = free_port()
    srv = target.start(port, log_dir, None)
    row: dict[str, Any] = {"target": target.name, "clients": n, "workers": target.workers, "gap_alerts": 0}
    headers = [{"Authorization": f"Bearer {t}"} for t in target.tokens[:n]] if target.tokens else [{}] * n
    ours = target.kind == "ours"
    try:
        await srv.wait_healthy()
        await _connect_all(pool, port, headers)
        await pool.expect("all", range(n))
        if ours:
            poster = await Poster.open(port, target.author, 1)
            aid = int((await poster.post(warm, 0))["id"])
            res = (await pool.wait([aid], "all", 30.0))[aid]
            poster.close()
            if res["got"] < n:
                raise RuntimeError(f"warm-up alert reached {res['got']} of {n}")
        srv, restart = await _restart(pool, srv, target, port, log_dir, spy)
        row.update(restart)
        ids: list[int] = []
        if ours:
            poster = await Poster.open(port, target.author, 1)
            ids = [int((await poster.post(a, i + 1))["id"]) for i, a in enumerate(gap)]
            poster.close()
            row["gap_alerts"] = len(ids)
        await pool.same("reset")
        cpu0, m0 = srv.cpu(), machine_jiffies()
        start_at, storm = await _storm(pool, port, headers)
        row.update(storm)
        row.update(await _whole(pool, ids, start_at, row.pop("_last_open")))
        after = await pool.status()  # a socket upgraded, then closed by the server, is not whole
        row["open_after"], row["closes_after"] = after["open"] - after["lost"], after["closes"]
        wall = time.monotonic() - start_at
        row["server_cpu_s"] = srv.cpu() - cpu0
        row["machine_busy_cores"] = machine_busy_cores(m0, machine_jiffies())
        row["server_cpu_util"] = row["server_cpu_s"] / wall if wall > 0 else math.nan
    except Exception as exc:
        tail = "\n".join(ln for ln in srv.log_tail(200).splitlines() if "connection " not in ln)[-1500:]
        row["error"] = f"{type(exc).__name__}: {exc}"[:500] + ("\nserver log:\n" + tail if tail else "")
    finally:
        try:
            await pool.close_all()
        except Exception as exc:
            row.setdefault("error", f"closing clients: {type(exc).__name__}: {exc}")
        finally:
            srv.stop()
    return row


async def _whole(pool: ClientPool, ids: list[int], start_at: float, last_open: float) -> dict[str, Any]:
    """Every gap alert at every connection (replayed after its since), once."""
    res = await pool.wait(ids, "all", WHOLE_TIMEOUT_S) if ids else {}
    missing = sum(int(r["want"] - r["got"]) for r in res.values())
    extra = sum(int(r["extra"]) for r in res.values())
    t_alerts = max((r["t_last"] for r in res.values() if r["got"]), default=0.0)
    whole = max(last_open, t_alerts) - start_at if not missing else math.nan
    return {"missing": missing, "duplicates": extra, "whole_s": whole}
