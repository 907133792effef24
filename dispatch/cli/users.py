"""`dispatch user add|import|passwd|list|disable`. Each prints its result
on stdout and its error on stderr, and returns the exit code: 0 done, 1
refused (a duplicate e-mail, a bad CSV row, no such account), 2 bad usage
(a password the policy refuses, dispatch.core.passwords)."""

from __future__ import annotations

import asyncio
import csv
import getpass
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tqdm import tqdm

from dispatch.adapters import open_bus
from dispatch.core.codec import CLOSE_ACCOUNT_SUSPENDED, CLOSE_SESSION_ENDED
from dispatch.core.model import utcnow
from dispatch.core.passwords import check_password
from dispatch.core.validation import InputError
from dispatch.live.sequencer import encode_event
from dispatch.ports.store import DuplicateEmail, Store
from dispatch.settings import Settings
from dispatch.usecases.accounts import RowError, check_account, new_user, read_accounts
from dispatch.usecases.sessions import hash_password
from dispatch.wiring import opened_store
from geo import load_city


def read_password() -> str | None:
    """One line of standard input, without its line end; asked for without
    echo when standard input is a terminal. None when there is nothing."""
    if sys.stdin.isatty():
        return getpass.getpass("password: ") or None
    line = sys.stdin.readline()
    return line.removesuffix("\n").removesuffix("\r") or None


def _fail(message: str, code: int) -> int:
    print(f"dispatch: {message}", file=sys.stderr)
    return code


async def user_add(
    settings: Settings, role: str, email: str, password: str, name: str, lat: float | None, lon: float | None
) -> int:
    try:
        row = check_account(role, email, password, name, lat, lon)
    except RowError as exc:
        return _fail(str(exc), 2)
    city = load_city(settings.city_sectors)
    async with opened_store(settings) as store:
        try:
            (user_id,) = await store.add_users([new_user(row, hash_password(row.password), city)])
        except DuplicateEmail as exc:
            return _fail(str(exc), 1)
    print(user_id)
    return 0


async def user_import(settings: Settings, path: str) -> int:
    try:
        rows = read_accounts(Path(path))
    except FileNotFoundError:
        return _fail(f"no such file: {path}", 2)
    except (RowError, UnicodeDecodeError, csv.Error) as exc:
        return _fail(f"{path}: {exc}", 1)
    city = load_city(settings.city_sectors)
    # argon2 releases the GIL: hash on every core, a bar on stderr meanwhile
    loop = asyncio.get_running_loop()
    bar = tqdm(total=len(rows), desc="hashing passwords", unit="account", file=sys.stderr, leave=False)
    with ThreadPoolExecutor() as pool:

        async def one(password: str) -> str:
            digest = await loop.run_in_executor(pool, hash_password, password)
            bar.update()
            return digest

        hashes = await asyncio.gather(*(one(r.password) for r in rows))
    bar.close()
    users = [new_user(r, h, city) for r, h in zip(rows, hashes)]
    async with opened_store(settings) as store:
        try:
            await store.add_users(users)
        except DuplicateEmail as exc:
            return _fail(f"{path}: line {exc.index + 2}: {exc}; nothing was imported", 1)
    print(len(users))
    return 0


async def _end_sessions(settings: Settings, store: Store, user_id: int, code: int) -> None:
    """Sessions.end_user from outside the server: the store forgets them and
    appends session.ended on the control channel; every worker reads it from
    the store within a second (its channel-head poll), at once when the bus
    is Redis and carries it."""
    event = await store.end_sessions(user_id, None, code, utcnow())
    bus = open_bus(settings.bus_url, settings.bus_prefix)
    if not bus.shared:
        return
    try:
        await bus.connect()
        await bus.publish_batch([(list(event.links), encode_event(event))])
    except Exception:  # the store has it: the workers' poll finds it
        pass
    finally:
        await bus.close()


async def user_passwd(settings: Settings, email: str, password: str) -> int:
    async with opened_store(settings) as store:
        user = await store.user_by_email(email)
        try:
            check_password(password, email, user.name if user else "")
        except InputError as exc:
            return _fail(exc.message, 2)
        user_id = await store.set_password(email, await asyncio.to_thread(hash_password, password))
        if user_id is None:
            return _fail(f"no account has the e-mail {email!r}", 1)
        await _end_sessions(settings, store, user_id, CLOSE_SESSION_ENDED)
    print(user_id)
    return 0


async def user_list(settings: Settings, role: str | None) -> int:
    async with opened_store(settings) as store:
        accounts = await store.list_accounts(role)
    for user_id, account_role, email, status in accounts:
        print(f"{user_id}\t{account_role}\t{email}\t{status}")
    return 0


async def user_disable(settings: Settings, email: str) -> int:
    async with opened_store(settings) as store:
        user_id = await store.disable_user(email, utcnow())
        if user_id is None:
            return _fail(f"no account has the e-mail {email!r}", 1)
        await _end_sessions(settings, store, user_id, CLOSE_ACCOUNT_SUSPENDED)
    print(user_id)
    return 0
