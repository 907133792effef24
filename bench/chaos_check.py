"""The accounting: what each fault window accepted, stored and delivered.

- stored: rows in the database by client_id (each accepted id exactly once;
  a client_id abandoned after refusals never);
- refused then stored: a job whose 503 was followed by a 200 (the repeat
  answer) was in fact written by the refused attempt: half-stored;
- delivered: ops clients must hold every accepted alert, residents every
  one `dispatch.core.audience.resident_wants` gives them (the product's own
  pure rule: within alerts.radius_m of home or in the home sector);
- duplicates: an alert id received twice by one client, across resumes;
- lost: an accepted alert an intended client never received."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from bench.chaos_listen import Tally
from bench.chaos_send import Job
from dispatch.core.audience import resident_wants
from dispatch.core.model import Home


@dataclass(frozen=True)
class Client:
    """One stream client and, for a resident, its home."""

    tally: Tally
    home: Home | None

    def wants(self, job: Job, radius_m: float) -> bool:
        if self.home is None:
            return True
        assert job.data is not None
        return resident_wants("alert.created", job.data, self.home, radius_m)


async def stored_counts(pg_url: str, client_ids: Sequence[str]) -> dict[str, list[int]]:
    """client_id -> ids of the alert rows that carry it."""
    conn = await asyncpg.connect(pg_url)
    try:
        rows = await conn.fetch(
            "SELECT client_id, array_agg(id ORDER BY id) AS ids FROM alerts WHERE client_id = ANY($1::text[])"
            " GROUP BY client_id",
            list(client_ids),
        )
    finally:
        await conn.close()
    return {r["client_id"]: list(r["ids"]) for r in rows}


def missing(clients: Iterable[Client], jobs: Iterable[Job], radius_m: float) -> int:
    """(client, alert) pairs still to deliver among these accepted jobs."""
    accepted = [j for j in jobs if j.alert_id is not None]
    out = 0
    for c in clients:
        got = c.tally.received
        out += sum(1 for j in accepted if j.alert_id not in got and c.wants(j, radius_m))
    return out


def window_report(
    name: str,
    jobs: Sequence[Job],
    clients: Sequence[Client],
    stored: dict[str, list[int]],
    radius_m: float,
    statuses: dict[int, int],
    whole_s: float | None,
) -> dict[str, Any]:
    accepted = [j for j in jobs if j.alert_id is not None]
    stored_once = sum(1 for j in accepted if stored.get(j.client_id) == [j.alert_id])
    abandoned = [j for j in jobs if j.alert_id is None]
    half = [j for j in jobs if _refused_then_repeat(j)]
    per_client: dict[str, dict[str, Any]] = {}
    dup = lost = 0
    ops_min: int | None = None
    res_got = res_want = 0
    for c in clients:
        want = [j for j in accepted if c.wants(j, radius_m)]
        got = sum(1 for j in want if j.alert_id in c.tally.received)
        gone = [j for j in want if j.alert_id not in c.tally.received]
        d = sum(max(0, c.tally.received[j.alert_id] - 1) for j in accepted if j.alert_id is not None)
        dup += d
        lost += len(want) - got
        per_client[c.tally.name] = {"intended": len(want), "delivered": got, "duplicates": d}
        if gone:  # what a fix needs: which alerts, and their events' seq
            per_client[c.tally.name]["missing"] = [[j.alert_id, (j.data or {}).get("seq")] for j in gone[:50]]
        if c.home is None:
            ops_min = got if ops_min is None else min(ops_min, got)
        else:
            res_got += got
            res_want += len(want)
    return {
        "fault": name,
        "offered": len(jobs),
        "accepted": len(accepted),
        "stored_once": stored_once,
        "stored_wrong": len(accepted) - stored_once,
        "abandoned": len(abandoned),
        "abandoned_stored": sum(1 for j in abandoned if stored.get(j.client_id)),
        "refused_503": sum(1 for j in jobs if j.refused),
        "refused_then_repeat": len(half),
        "ops_delivered_min": ops_min,
        "residents_delivered": res_got,
        "residents_intended": res_want,
        "duplicates": dup,
        "lost": lost,
        "whole_s": whole_s,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "clients": per_client,
    }


def _refused_then_repeat(job: Job) -> bool:
    """A 503, then the 200 of a repeated client_id, with no broken connection
    in between that could explain it: the refused attempt had been stored."""
    seen_503 = False
    for _, status in job.attempts:
        if status == 503:
            seen_503 = True
        elif status == 0:
            seen_503 = False
        elif status == 200 and seen_503:
            return True
    return False


def failures(rows: Sequence[dict[str, Any]], five_xx: int, missing_retry_after: int) -> list[str]:
    """Why the run fails, in words; empty when every fault was survived."""
    out: list[str] = []
    for r in rows:
        for key in ("stored_wrong", "abandoned_stored", "refused_then_repeat", "duplicates", "lost"):
            if r[key]:
                out.append(f"{r['fault']}: {key} = {r[key]}")
    if five_xx:
        out.append(f"{five_xx} answers were a 5xx other than 503")
    if missing_retry_after:
        out.append(f"{missing_retry_after} answers of 503 had no Retry-After")
    return out
