"""`dispatch simulate`: demo traffic through the public HTTP API.

Residents are created in the configured store (there is no public sign-up
route yet); they then log in and report over HTTP like the residents' app.
Simulated accounts share one password hash: they are demo data, not people."""

from __future__ import annotations

import asyncio
import random
import secrets
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
from tqdm import tqdm

from dispatch.cli.traffic import Report, town_traffic
from dispatch.core.model import NewUser
from dispatch.settings import Settings
from dispatch.usecases.sessions import hash_password
from dispatch.wiring import opened_store
from geo import City, load_city


async def create_residents(settings: Settings, city: City, n: int, rng: random.Random) -> tuple[list[str], str]:
    password = secrets.token_urlsafe(12)
    shared_hash = hash_password(password)
    tag = secrets.token_hex(4)
    users, emails = [], []
    for i in range(n):
        lat, lon = city.random_point(rng)
        email = f"sim-{tag}-{i}@example.invalid"
        emails.append(email)
        users.append(
            NewUser("resident", email, shared_hash, f"Résident simulé {i}", lat, lon, city.sector_of(lat, lon))
        )
    async with opened_store(settings) as store:
        await store.add_users(users)
    return emails, password


async def simulate(settings: Settings, url: str, residents: int, rate: float, duration: float, seed: int | None) -> int:
    rng = random.Random(seed)
    city = load_city(settings.city_sectors)
    emails, password = await create_residents(settings, city, max(1, residents), rng)
    reports = town_traffic(city, rate, duration, seed)
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        tokens = await _log_in(client, emails, password)
        print(
            f"simulate: {len(tokens)} residents logged in; {len(reports)} alerts over {duration:g} s", file=sys.stderr
        )
        tally = await _send(client, tokens, reports)
    print(summary(tally))
    return 0 if tally.refused == 0 else 1


async def _log_in(client: httpx.AsyncClient, emails: list[str], password: str) -> list[str]:
    tokens: list[str] = []
    sem = asyncio.Semaphore(4)

    async def login(email: str) -> None:
        async with sem:
            # argon2 behind the server's hashing gate: slow on a busy laptop
            r = await client.post("/api/auth/login", json={"email": email, "password": password}, timeout=60)
            r.raise_for_status()
            tokens.append(r.json()["token"])

    await asyncio.gather(*(login(e) for e in emails))
    return tokens


@dataclass
class Tally:
    sent: int = 0
    accepted: int = 0
    refused: int = 0
    categories: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)


def summary(t: Tally) -> str:
    """The run's one line: what went out, what the server took, and of what."""
    mix = ", ".join(f"{c} {n}" for c, n in t.categories.most_common())
    took = time.monotonic() - t.started
    return f"simulate: {t.sent} alerts sent, {t.accepted} accepted, {t.refused} refused in {took:.1f} s ({mix})"


async def _send(client: httpx.AsyncClient, tokens: list[str], reports: list[Report]) -> Tally:
    tally = Tally()
    pending: set[asyncio.Task[None]] = set()
    # a bar on stderr: stdout keeps the summary alone, for scripts
    bar = tqdm(total=len(reports), unit="alerte", file=sys.stderr, mininterval=0.5)

    async def post(token: str, body: dict[str, object]) -> None:
        try:
            r = await client.post("/api/alerts", json=body, headers={"Authorization": f"Bearer {token}"})
            ok = r.status_code in (200, 201)
        except httpx.HTTPError:
            ok = False
        tally.accepted += ok
        tally.refused += not ok
        bar.update(1)

    for i, report in enumerate(reports):
        wait = tally.started + report.at_s - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        body = {
            "category": report.category,
            "lat": report.lat,
            "lon": report.lon,
            "text": "Alerte simulée",
            "client_id": f"sim-{i}-{secrets.token_hex(4)}",
        }
        tally.sent += 1
        tally.categories[report.category] += 1
        # in turn, so no resident reaches limits.alerts_per_window before the others
        task = asyncio.create_task(post(tokens[i % len(tokens)], body))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.wait(pending, timeout=10)
    bar.close()
    return tally
