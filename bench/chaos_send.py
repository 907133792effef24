"""The steady stream of alerts: `rate` a second from many residents through
POST /api/alerts, each with its own client_id. A 503 is retried with the
SAME client_id after its Retry-After, and so is a request whose connection
broke before an answer (a killed worker): that is how a client stays safe,
since a repeated client_id answers 200 with the first alert, never a second.

Every attempt's status is kept with its time, so each fault's window can
say what the server answered while it lasted."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson

from bench.httpc import HttpConn

CATEGORIES = ("suspicious", "burglary", "theft", "vandalism", "rodeo", "ecology")
# ~900 characters: big frames make a stopped reader overflow the server's
# send queue in seconds at a few alerts a second. Neutral words, no personal data.
FILLER = ("essai de panne, aucune donnée personnelle. " * 22).strip()
GIVE_UP_S = 180.0  # a job still refused after this is abandoned (and must then never be stored)
# uvicorn closes an idle keep-alive connection after 5 s (timeout_keep_alive):
# reuse one only well within that, so a broken connection means a fault
KEEP_ALIVE_S = 3.0
CONN_ERROR = 0  # the status recorded when the connection broke before an answer


@dataclass
class Job:
    client_id: str
    author: int
    token: str
    lat: float
    lon: float
    created: float
    attempts: list[tuple[float, int]] = field(default_factory=list)  # (monotonic time, status)
    alert_id: int | None = None
    accepted_at: float | None = None
    data: dict[str, Any] | None = None  # the 201's body: the alert, author's view
    gave_up: bool = False

    @property
    def refused(self) -> bool:
        return any(s == 503 for _, s in self.attempts)


def retry_after(head: bytes) -> float:
    for line in head.split(b"\r\n")[1:]:
        if line[:12].lower() == b"retry-after:":
            try:
                return max(0.1, float(line[12:].strip()))
            except ValueError:
                return 1.0
    return -1.0  # no header: a 503 without Retry-After is itself a finding


class Sender:
    def __init__(
        self,
        host: str,
        port: int,
        authors: list[tuple[int, str]],
        points: list[tuple[float, float]],
        rate: float,
        seed: int = 21,
    ) -> None:
        self.host, self.port = host, port
        self.authors = authors
        self.points = points
        self.rate = rate
        self.rng = random.Random(seed)
        self.jobs: list[Job] = []
        self.missing_retry_after = 0
        self.not_unavailable = 0  # 503s whose error code is not `unavailable`
        self.statuses: Counter[int] = Counter()
        self._idle: list[tuple[float, HttpConn]] = []  # (last used, connection)
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        """Offers one alert every 1/rate s on a fixed schedule until `stop`."""
        t0 = time.monotonic()
        for n in itertools.count():
            if stop.is_set():
                return
            delay = t0 + n / self.rate - time.monotonic()
            if delay > 0:
                try:
                    await asyncio.wait_for(stop.wait(), delay)
                    return
                except TimeoutError:
                    pass
            author, token = self.authors[n % len(self.authors)]
            lat, lon = self.points[n % len(self.points)]
            self._start(n, author, token, lat, lon)

    def burst(self, points: list[tuple[float, float]]) -> None:
        """That many alerts at once, on top of the steady stream."""
        for k, (lat, lon) in enumerate(points):
            author, token = self.authors[k % len(self.authors)]
            self._start(k, author, token, lat, lon)

    def _start(self, n: int, author: int, token: str, lat: float, lon: float) -> None:
        job = Job(uuid.uuid4().hex, author, token, lat, lon, time.monotonic())
        self.jobs.append(job)
        task = asyncio.create_task(self._deliver(job, n))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout: float) -> int:
        """Waits for the jobs still retrying; returns how many were left."""
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            for t in pending:
                t.cancel()
            return len(pending)
        return 0

    def close(self) -> None:
        for _, c in self._idle:
            c.close()
        self._idle.clear()

    async def _deliver(self, job: Job, n: int) -> None:
        body = orjson.dumps(
            {
                "category": CATEGORIES[n % len(CATEGORIES)],
                "lat": job.lat,
                "lon": job.lon,
                "text": FILLER,
                "client_id": job.client_id,
            }
        )
        headers = {"Authorization": f"Bearer {job.token}"}
        while True:
            status, payload, head = await self._post(body, headers)
            now = time.monotonic()
            job.attempts.append((now, status))
            self.statuses[status] += 1
            if status in (200, 201):
                doc = orjson.loads(payload)
                job.alert_id, job.accepted_at, job.data = int(doc["id"]), now, doc
                return
            if now - job.created > GIVE_UP_S or (400 <= status < 500 and status != 429):
                job.gave_up = True
                return
            wait = 0.5
            if status == 503 and b'"unavailable"' not in payload:
                self.not_unavailable += 1
            if status in (429, 503):
                wait = retry_after(head)
                if wait < 0:
                    self.missing_retry_after += 1
                    wait = 1.0
            # a little jitter, so retries after one outage do not land in one instant
            await asyncio.sleep(wait * self.rng.uniform(1.0, 1.2))

    async def _post(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, bytes]:
        conn = None
        while self._idle and conn is None:
            used, conn = self._idle.pop()
            if time.monotonic() - used > KEEP_ALIVE_S:  # the server may close it as we write
                conn.close()
                conn = None
        try:
            if conn is None:
                conn = await HttpConn.open(self.host, self.port, timeout=5.0)
            status, payload = await conn.request("POST", "/api/alerts", body, headers, timeout=15.0)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
            if conn is not None:
                conn.close()
            return CONN_ERROR, b"", b""
        head = conn.last_head
        if b"connection: close" in head.lower():
            conn.close()
        else:
            self._idle.append((time.monotonic(), conn))
        return status, payload, head
