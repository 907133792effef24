"""`python -m bench.chaos [--quick] [--json PATH]`: faults survived, with
no accepted alert lost or duplicated (issue 21, part 2).

On a PostgreSQL cluster and a redis-server of its own, `dispatch serve
--workers 2` takes a steady stream of alerts (bench.chaos_send) while ops
clients and residents hold their streams open and resume with `?since=` on
any close (bench.chaos_listen). Four faults in turn, each followed by a
settle period: Redis killed with -9 and restarted, one uvicorn worker killed
with -9, PostgreSQL stopped with `-m immediate` and started, and one client
process SIGSTOPped until the server drops it as slow, then SIGCONTed.

Each fault's window (its start to the next fault's start) is accounted by
bench.chaos_check; "whole after" is the time from the end of the fault until
every client held every alert whose job was created before that end. Exits
non-zero when any alert was lost, duplicated, stored wrongly, or any answer
was a 5xx other than 503 (with `unavailable` and Retry-After)."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.chaos_check import failures, missing, stored_counts, window_report
from bench.chaos_faults import FAULTS
from bench.chaos_rig import RADIUS_M, Rig, Sizes, connected, start
from bench.chaos_send import Sender
from bench.common import log, markdown_table, write_json

QUICK = Sizes(residents=12, ops=2, authors=30, rate=5.0, settle_s=8.0, outage_s=4.0, stop_s=10.0, burst=120)
FULL = Sizes(residents=40, ops=3, authors=100, rate=10.0, settle_s=20.0, outage_s=10.0, stop_s=20.0, burst=200)

COLUMNS = [
    ("fault", "fault"),
    ("accepted", "accepted (201/200)"),
    ("stored_once", "stored once"),
    ("refused_503", "got a 503 first"),
    ("half_stored", "refused yet stored"),
    ("ops_delivered_min", "ops delivered (min)"),
    ("residents", "residents delivered / intended"),
    ("duplicates", "duplicates"),
    ("lost", "lost"),
    ("whole_s", "whole after (s)"),
    ("answers", "answers seen"),
]


async def _whole_after(rig: Rig, sender: Sender, t_end: float, limit: float) -> float | None:
    """Seconds from t_end until every client holds every accepted alert of
    the jobs created before t_end (and every such job has an answer)."""
    while True:
        rig.refresh()
        jobs = [j for j in sender.jobs if j.created < t_end]
        settled = all(j.alert_id is not None or j.gave_up for j in jobs)
        if settled and missing(rig.clients, jobs, RADIUS_M) == 0:
            return time.monotonic() - t_end
        if time.monotonic() - t_end > limit:
            return None
        await asyncio.sleep(0.05)


def _closes(rig: Rig) -> Counter[str]:
    total: Counter[str] = Counter()
    for c in rig.clients:
        total.update(c.tally.closes)
    return total


async def _phases(rig: Rig, sizes: Sizes, sender: Sender) -> list[dict[str, Any]]:
    """Runs the faults; returns each window: name, start, fault end, info."""
    windows: list[dict[str, Any]] = [{"fault": "steady (no fault)", "start": time.monotonic(), "info": {}}]
    await asyncio.sleep(sizes.settle_s)
    windows[0]["whole_s"] = await _whole_after(rig, sender, time.monotonic(), sizes.settle_s)
    for name, fault in FAULTS.items():
        log(f"chaos: {name}")
        w: dict[str, Any] = {"fault": name, "start": time.monotonic()}
        rig.refresh()
        before = _closes(rig)
        w["info"] = await fault(rig, sizes)
        t_end = time.monotonic()
        w["whole_s"] = await _whole_after(rig, sender, t_end, 3 * sizes.settle_s)
        w["info"]["client_closes"] = dict(_closes(rig) - before)  # how the clients were cut off, and how often
        windows.append(w)
        rest = sizes.settle_s - (time.monotonic() - t_end)
        if rest > 0:
            await asyncio.sleep(rest)
        log(f"chaos: {name}: whole after {w['whole_s']}, info {w['info']}")
    return windows


async def run(sizes: Sizes, log_dir: Path) -> dict[str, Any]:
    rig = await start(sizes, log_dir)
    try:
        await connected(rig)
        sender = Sender("127.0.0.1", rig.server.port, rig.authors, rig.points, sizes.rate)
        rig.sender = sender
        stop = asyncio.Event()
        send_task = asyncio.create_task(sender.run(stop))
        windows = await _phases(rig, sizes, sender)
        stop.set()
        await send_task
        left = await sender.drain(60.0)
        drained = await _whole_after(rig, sender, time.monotonic(), 30.0)
        rig.refresh()
        stored = await stored_counts(rig.pg.url, [j.client_id for j in sender.jobs])
        sender.close()
        return _report(rig, sizes, sender, windows, stored, {"jobs_left_retrying": left, "drain_whole_s": drained})
    finally:
        await rig.close()


def _report(
    rig: Rig,
    sizes: Sizes,
    sender: Sender,
    windows: list[dict[str, Any]],
    stored: dict[str, list[int]],
    end: dict[str, Any],
) -> dict[str, Any]:
    rows = []
    for i, w in enumerate(windows):
        hi = windows[i + 1]["start"] if i + 1 < len(windows) else float("inf")
        jobs = [j for j in sender.jobs if w["start"] <= j.created < hi]
        statuses: dict[int, int] = {}
        for j in sender.jobs:
            for t, s in j.attempts:
                if w["start"] <= t < hi:
                    statuses[s] = statuses.get(s, 0) + 1
        row = window_report(w["fault"], jobs, rig.clients, stored, RADIUS_M, statuses, w["whole_s"])
        row["info"] = w["info"]
        row["half_stored"] = row["refused_then_repeat"] + row["abandoned_stored"]
        row["residents"] = f"{row['residents_delivered']} / {row['residents_intended']}"
        row["answers"] = " ".join(f"{'conn-error' if k == '0' else k}×{v}" for k, v in row["statuses"].items())
        rows.append(row)
    five_xx = sum(v for s, v in sender.statuses.items() if s >= 500 and s != 503)
    five_xx += sum(v for c in rig.clients for s, v in c.tally.refused.items() if s >= 500 and s != 503)
    bad = failures(rows, five_xx, sender.missing_retry_after)
    if sender.not_unavailable:
        bad.append(f"{sender.not_unavailable} answers of 503 were not `unavailable`")
    clients = {
        c.tally.name: {
            "connects": c.tally.connects,
            "closes": dict(c.tally.closes),
            "refused": {str(k): v for k, v in c.tally.refused.items()},
            "resyncs": c.tally.resyncs,
        }
        for c in rig.clients
    }
    return {
        "bench": "chaos",
        "sizes": vars(sizes),
        "rows": rows,
        "statuses": {str(k): v for k, v in sorted(sender.statuses.items())},
        "clients": clients,
        "end": end,
        "failures": bad,
        "ok": not bad,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer clients, shorter outages (CI)")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--keep-logs", help="keep the server's log and the child's events in this folder")
    args = ap.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    t0 = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="chaos-", dir=args.keep_logs and Path(args.keep_logs).absolute()))
    try:
        doc = asyncio.run(run(sizes, tmp))
    except BaseException:
        for p in tmp.glob("*.log"):
            log(f"--- {p.name}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-40:]))
        raise
    finally:
        if not args.keep_logs:
            shutil.rmtree(tmp, ignore_errors=True)
    doc["wall_s"] = time.monotonic() - t0
    print(markdown_table(doc["rows"], COLUMNS))
    for r in doc["rows"]:
        if r["info"]:
            print(f"{r['fault']}: {r['info']}")
    print(f"\nanswers over the run: {doc['statuses']} (0 = connection broke before an answer)")
    for name, c in doc["clients"].items():
        if c["closes"] or c["refused"] or c["resyncs"]:
            print(
                f"{name}: connects {c['connects']}, closes {c['closes']}, refused {c['refused']}, resyncs {c['resyncs']}"
            )
    print("\nresult: " + ("every fault survived" if doc["ok"] else "FAILED: " + "; ".join(doc["failures"])))
    write_json(args.json, doc)
    return 0 if doc["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
