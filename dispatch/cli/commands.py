"""The administrative commands: migrate, user add, user import, unit add.
Each prints its result (an id, a count) on stdout and its error on stderr,
and returns the process exit code."""

from __future__ import annotations

import asyncio
import csv
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from dispatch.adapters import open_store
from dispatch.core.model import utcnow
from dispatch.ports.store import DuplicateEmail, DuplicateUnit
from dispatch.settings import Settings
from dispatch.usecases.accounts import RowError, check_account, new_user, read_accounts
from dispatch.usecases.sessions import hash_password
from dispatch.wiring import opened_store
from geo import load_city


async def migrate(settings: Settings) -> int:
    store = open_store(settings.database_url, 2)
    await store.connect()
    try:
        applied = await store.migrate()
    finally:
        await store.close()
    print(f"migrated: {', '.join(map(str, applied))}" if applied else "schema is up to date")
    return 0


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
            (user_id,) = await store.add_users([new_user(row, hash_password(row.password), city)])
        except DuplicateEmail as exc:
            print(f"dispatch: {exc}", file=sys.stderr)
            return 1
    print(user_id)
    return 0


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
    users = [new_user(r, h, city) for r, h in zip(rows, hashes)]
    async with opened_store(settings) as store:
        try:
            await store.add_users(users)
        except DuplicateEmail as exc:
            print(f"dispatch: {path}: line {exc.index + 2}: {exc}; nothing was imported", file=sys.stderr)
            return 1
    print(len(users))
    return 0


async def unit_add(settings: Settings, name: str) -> int:

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
