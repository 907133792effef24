"""Adapters: the implementations of the ports in dispatch.ports, chosen by
URL scheme with open_store and open_bus (called by dispatch.wiring and
dispatch.cli).

Stores: store_sqlite.SqliteStore and store_postgres.PostgresStore, both
store_base.SqlStore. The SQL they share is written once against
dialect.Dialect (store_sql, triage_sql, grouping_sql) and run through tx.Tx;
store_common holds what else they share (rows, time, JSON), batcher the
group commit, migrations the schema; what each does its own way is in its
store_*_sql module. Buses: bus_memory.MemoryBus and bus_redis.RedisBus.
Limits (counters with an expiry): limits_memory.MemoryLimits and
limits_redis.RedisLimits, chosen by the bus URL.

May import: dispatch.core, dispatch.ports, geo, dispatch.telemetry and the drivers (asyncpg,
aiosqlite, redis); never dispatch.usecases, dispatch.live, dispatch.http,
dispatch.wiring, dispatch.cli or dispatch.settings. Modules here import one
another without a cycle."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dispatch.ports.bus import Bus
    from dispatch.ports.grouping import Grouping
    from dispatch.ports.limits import Limits
    from dispatch.ports.store import Store

SQLITE_PREFIX = "sqlite:///"


def open_store(url: str, pool_size: int = 10, grouping: Grouping | None = None) -> Store:
    """`sqlite:///PATH` -> SqliteStore(PATH) (settings make PATH absolute, so
    `sqlite:////tmp/x.db` is /tmp/x.db); `postgresql://` or `postgres://` ->
    PostgresStore. The store is returned unconnected: call connect()."""
    if url.startswith(SQLITE_PREFIX):
        from dispatch.adapters.store_sqlite import SqliteStore

        path = url[len(SQLITE_PREFIX) :]
        if not path:
            raise ValueError("sqlite URL without a path: expected sqlite:///PATH")
        return SqliteStore(path, grouping)
    if url.startswith(("postgresql://", "postgres://")):
        from dispatch.adapters.store_postgres import PostgresStore

        return PostgresStore(url, pool_size=pool_size, grouping=grouping)
    scheme = url.split("://", 1)[0] if "://" in url else url[:20]
    raise ValueError(f"unsupported database URL scheme {scheme!r}: expected sqlite:/// or postgresql://")


def open_bus(url: str, prefix: str = "dispatch") -> Bus:
    """`memory://` -> MemoryBus (one worker); `redis://` or `rediss://` ->
    RedisBus(url, prefix). Returned unconnected: call connect()."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme == "memory":
        from dispatch.adapters.bus_memory import MemoryBus

        return MemoryBus()
    if scheme in ("redis", "rediss"):
        # Imported here so a memory:// deployment never loads redis-py.
        from dispatch.adapters.bus_redis import RedisBus

        return RedisBus(url, prefix)
    # The scheme only: the URL may carry a password.
    raise ValueError(f"unsupported bus URL scheme {scheme!r}: expected memory://, redis:// or rediss://")


def open_limits(bus_url: str, prefix: str = "dispatch") -> Limits:
    """Where the bus is Redis, so are the limits (every worker counts
    together); with `memory://` they are this process's. Unconnected."""
    if bus_url.split("://", 1)[0].lower() in ("redis", "rediss"):
        from dispatch.adapters.limits_redis import RedisLimits

        return RedisLimits(bus_url, prefix)
    from dispatch.adapters.limits_memory import MemoryLimits

    return MemoryLimits()
