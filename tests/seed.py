"""Seeding many accounts fast for end-to-end tests and benches: straight into
the store, one shared password hash, sessions with known tokens. (Logging in
1,000 residents through argon2 would take a minute and test nothing new.)"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from dispatch.adapters import open_store
from dispatch.core.model import NewUser, utcnow
from dispatch.usecases.sessions import hash_password, token_hash
from geo import City


@dataclass(frozen=True)
class Seeded:
    user_id: int
    token: str
    role: str
    lat: float | None = None
    lon: float | None = None
    sector: str | None = None


async def seed(
    db_url: str, city: City, homes: list[tuple[float, float]], staff: list[str] = ()
) -> tuple[list[Seeded], list[Seeded]]:
    """Residents at `homes`, plus staff accounts of the given roles."""
    store = open_store(db_url, 2)
    await store.connect()
    try:
        await store.migrate()
        shared = hash_password(secrets.token_urlsafe(8))
        tag = secrets.token_hex(4)
        users = [
            NewUser("resident", f"r{i}-{tag}@example.invalid", shared, "", lat, lon, city.sector_of(lat, lon))
            for i, (lat, lon) in enumerate(homes)
        ] + [NewUser(role, f"s{i}-{tag}@example.invalid", shared) for i, role in enumerate(staff)]
        ids = await store.add_users(users)
        expires = utcnow() + timedelta(hours=2)
        out = []
        for uid, user in zip(ids, users):
            token = secrets.token_urlsafe(24)
            await store.add_session(token_hash(token), uid, expires)
            out.append(Seeded(uid, token, user.role, user.home_lat, user.home_lon, user.home_sector))
    finally:
        await store.close()
    return out[: len(homes)], out[len(homes) :]
