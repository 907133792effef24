"""The administrative commands: migrate, user add, user import."""

from __future__ import annotations

import asyncio
import csv
import math
import sys
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from dispatch.adapters import open_store
from dispatch.core.model import RESIDENT_ROLES, ROLES, NewUser
from dispatch.ports.store import DuplicateEmail, Store
from dispatch.settings import Settings
from dispatch.usecases.sessions import hash_password
from geo import City, load_city


@asynccontextmanager
async def opened_store(settings: Settings) -> AsyncIterator[Store]:
    store = open_store(settings.database_url, min(settings.database_pool_size, 4))
    await store.connect()
    try:
        await store.migrate()
        yield store
    finally:
        await store.close()


async def migrate(settings: Settings) -> int:
    store = open_store(settings.database_url, 2)
    await store.connect()
    try:
        applied = await store.migrate()
    finally:
        await store.close()
    print(f"migrated: {', '.join(map(str, applied))}" if applied else "schema is up to date")
    return 0


class RowError(ValueError):
    pass


@dataclass(frozen=True)
class AccountRow:
    role: str
    email: str
    password: str
    name: str
    lat: float | None
    lon: float | None


def _coord(raw: str | float | None, name: str, limit: float) -> float | None:
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return None
    try:
        value = float(raw)
    except ValueError:
        raise RowError(f"{name} {raw!r} is not a number") from None
    if not math.isfinite(value) or not -limit <= value <= limit:
        raise RowError(f"{name} must be between {-limit:g} and {limit:g}")
    return value


def check_account(role: str, email: str, password: str, name: str, lat: object, lon: object) -> AccountRow:
    if role not in ROLES:
        raise RowError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    email = (email or "").strip().lower()
    if "@" not in email or len(email) > 254:
        raise RowError(f"{email!r} is not an email address")
    if not password:
        raise RowError("password is empty")
    la, lo = _coord(lat, "lat", 90), _coord(lon, "lon", 180)  # type: ignore[arg-type]
    if (la is None) != (lo is None):
        raise RowError("give both lat and lon, or neither")
    if role in RESIDENT_ROLES and la is None:
        raise RowError("a resident needs a home: lat and lon")
    return AccountRow(role, email, password, name or "", la, lo)


def _new_user(row: AccountRow, password_hash: str, city: City) -> NewUser:
    sector = city.sector_of(row.lat, row.lon) if row.lat is not None and row.lon is not None else None
    return NewUser(row.role, row.email, password_hash, row.name, row.lat, row.lon, sector, validated=True)


async def user_add(
    settings: Settings, role: str, email: str, password: str, name: str, lat: float | None, lon: float | None
) -> int:
    try:
        row = check_account(role, email, password, name, lat, lon)
    except RowError as exc:
        print(f"dispatch: {exc}", file=sys.stderr)
        return 2
    city = load_city(settings.city_sectors)
    async with opened_store(settings) as store:
        try:
            (user_id,) = await store.add_users([_new_user(row, hash_password(row.password), city)])
        except DuplicateEmail as exc:
            print(f"dispatch: {exc}", file=sys.stderr)
            return 1
    print(user_id)
    return 0


def read_accounts(path: Path) -> list[AccountRow]:
    """Every row checked before anything is written; errors name the line."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        expected = ["role", "email", "password", "name", "lat", "lon"]
        if reader.fieldnames is None or [f.strip() for f in reader.fieldnames] != expected:
            raise RowError(f"line 1: the header must be {','.join(expected)}")
        rows = []
        for record in reader:
            line = reader.line_num
            if None in record or any(v is None for v in record.values()):
                raise RowError(f"line {line}: expected 6 columns")
            try:
                rows.append(check_account(*(record[k].strip() for k in expected)))
            except RowError as exc:
                raise RowError(f"line {line}: {exc}") from None
        return rows


async def user_import(settings: Settings, path: str) -> int:
    try:
        rows = read_accounts(Path(path))
    except FileNotFoundError:
        print(f"dispatch: no such file: {path}", file=sys.stderr)
        return 2
    except (RowError, UnicodeDecodeError, csv.Error) as exc:
        print(f"dispatch: {path}: {exc}", file=sys.stderr)
        return 1
    city = load_city(settings.city_sectors)
    # argon2 releases the GIL: hash on every core
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor() as pool:
        hashes = await asyncio.gather(*(loop.run_in_executor(pool, hash_password, r.password) for r in rows))
    users = [_new_user(r, h, city) for r, h in zip(rows, hashes)]
    async with opened_store(settings) as store:
        try:
            await store.add_users(users)
        except DuplicateEmail as exc:
            print(f"dispatch: {path}: line {exc.index + 2}: {exc}; nothing was imported", file=sys.stderr)
            return 1
    print(len(users))
    return 0


async def unit_add(settings: Settings, name: str) -> int:
    from dispatch.core.model import utcnow
    from dispatch.ports.store import DuplicateUnit

    name = name.strip()
    if not name or len(name) > 64:
        print("dispatch: a unit name has 1 to 64 characters", file=sys.stderr)
        return 2
    async with opened_store(settings) as store:
        try:
            unit = await store.add_unit(name, utcnow())
        except DuplicateUnit:
            print(f"dispatch: a unit named {name!r} exists", file=sys.stderr)
            return 1
    print(unit.id)
    return 0
