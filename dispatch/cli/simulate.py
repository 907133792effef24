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

import httpx

from dispatch.core.categories import CATEGORIES
from dispatch.core.model import NewUser
from dispatch.settings import Settings
from dispatch.usecases.sessions import hash_password
from dispatch.wiring import opened_store
from geo import City, load_city


# About 40% of real alerts are mutual aid (DEVELOPERS.md); the rest spread
# over the other categories.
def pick_category(rng: random.Random) -> str:
    if rng.random() < 0.4:
        return "solidarity"
    return rng.choice([c for c in CATEGORIES if c != "solidarity"])


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
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        tokens = []
        sem = asyncio.Semaphore(4)

        async def login(email: str) -> None:
            async with sem:
                r = await client.post("/api/auth/login", json={"email": email, "password": password})
                r.raise_for_status()
                tokens.append(r.json()["token"])

        await asyncio.gather(*(login(e) for e in emails))
        print(
            f"simulate: {len(tokens)} residents logged in; sending {rate:g} alerts/s for {duration:g} s",
            file=sys.stderr,
        )
        sent = failed = 0
        start = time.monotonic()
        pending: set[asyncio.Task[None]] = set()

        async def post(token: str, body: dict[str, object]) -> None:
            nonlocal sent, failed
            try:
                r = await client.post("/api/alerts", json=body, headers={"Authorization": f"Bearer {token}"})
                if r.status_code in (200, 201):
                    sent += 1
                else:
                    failed += 1
            except httpx.HTTPError:
                failed += 1

        i = 0
        while time.monotonic() - start < duration:
            target = start + i / rate
            if target > time.monotonic():
                await asyncio.sleep(target - time.monotonic())
            lat, lon = city.random_point(rng)
            body = {
                "category": pick_category(rng),
                "lat": lat,
                "lon": lon,
                "text": "Alerte simulée",
                "client_id": f"sim-{i}-{secrets.token_hex(4)}",
            }
            # in turn, so no resident reaches limits.alerts_per_window before the others
            task = asyncio.create_task(post(tokens[i % len(tokens)], body))
            pending.add(task)
            task.add_done_callback(pending.discard)
            i += 1
        if pending:
            await asyncio.wait(pending, timeout=10)
    print(f"simulate: {sent} alerts accepted, {failed} failed", file=sys.stderr)
    print(sent)
    return 0 if failed == 0 else 1
