"""The administrative commands: migrate and unit add (the user commands are
in dispatch.cli.users). Each prints its result (an id, a count) on stdout
and its error on stderr, and returns the process exit code."""

from __future__ import annotations

import sys
from datetime import datetime

from dispatch.adapters import open_store
from dispatch.core.model import utcnow
from dispatch.core.retention import to_utc
from dispatch.ports.store import DuplicateUnit
from dispatch.settings import Settings
from dispatch.wiring import opened_store


async def migrate(settings: Settings) -> int:
    store = open_store(settings.database_url, 2)
    await store.connect()
    try:
        applied = await store.migrate()
    finally:
        await store.close()
    print(f"migrated: {', '.join(map(str, applied))}" if applied else "schema is up to date")
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


async def purge(settings: Settings, now: str | None) -> int:
    """Apply the retention periods as of now (or `now`), print the counts."""
    from dispatch.adapters.proof_files import ProofFolder
    from dispatch.usecases.privacy import Purge
    from dispatch.wiring import retention

    as_of = None
    if now is not None:
        try:
            as_of = to_utc(datetime.fromisoformat(now.replace("Z", "+00:00")))
        except ValueError:
            print(f"dispatch: --now must be an ISO 8601 date-time, got {now!r}", file=sys.stderr)
            return 2
    async with opened_store(settings) as store:
        counts = await Purge(store, ProofFolder(settings.proofs_dir), retention(settings)).purge(as_of)
    if counts is None:
        print("dispatch: another purge is running; try again later", file=sys.stderr)
        return 1
    for kind, n in counts.items():
        print(f"{kind}\t{n}")
    return 0
