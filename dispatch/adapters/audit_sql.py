"""The audit (migration 7, schema_audit) over a Tx, for both stores.

append_audit is the one way to write it: called with the Tx of the write it
records, so the entry commits or rolls back with that write and is never a
separate write that could be lost. AuditMethods are the Store methods
(store_base.SqlStore inherits them): a transaction of entries alone, for a
read that records a view, and the admin's query."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime

from dispatch.adapters.dialect import Dialect, Params, Sql
from dispatch.adapters.schema_audit import POSTGRES_PURGE_SETTING, SQLITE_DELETE_GUARD, SQLITE_DROP_DELETE_GUARD
from dispatch.adapters.store_common import Row
from dispatch.adapters.tx import Tx
from dispatch.core.audit import AuditEntry, AuditQuery

AUDIT_COLUMNS = "id, at, actor, action, record_type, record_id"
INSERT_AUDIT = Sql("INSERT INTO audit (at, actor, action, record_type, record_id) VALUES (?, ?, ?, ?, ?)")
PURGE_AUDIT = Sql("DELETE FROM audit WHERE at < ?")
COUNT_OLDER = Sql("SELECT count(*) FROM audit WHERE at < ?")


async def append_audit(tx: Tx, *entries: AuditEntry) -> None:
    """Write `entries` in `tx`, the transaction of what they record."""
    d = tx.dialect
    rows = [(d.ts_param(e.at), e.actor, e.action, e.record_type, e.record_id) for e in entries]
    await tx.execute_many(INSERT_AUDIT.on(d), rows)


def created_entries(account_ids: Iterable[int], at: datetime) -> list[AuditEntry]:
    """Accounts made by the CLI (create, import) or the simulator: the system's."""
    return [AuditEntry("account.create", "account", int(i), None, at) for i in account_ids]


async def purge_audit(tx: Tx, before: datetime) -> int:
    """Delete the entries older than `before` (the retention purge; the
    purge's own entry is appended by its caller in the same `tx`). The only
    path past the append-only guard: see schema_audit. How many went."""
    d = tx.dialect
    counted = await tx.rows(COUNT_OLDER.on(d), d.ts_param(before))
    if d.name == "sqlite":
        await tx.execute(SQLITE_DROP_DELETE_GUARD)
        await tx.execute(PURGE_AUDIT.on(d), d.ts_param(before))
        await tx.execute(SQLITE_DELETE_GUARD)
    else:
        await tx.execute(f"SELECT set_config('{POSTGRES_PURGE_SETTING}', 'on', true)")
        await tx.execute(PURGE_AUDIT.on(d), d.ts_param(before))
        await tx.execute(f"SELECT set_config('{POSTGRES_PURGE_SETTING}', 'off', true)")
    return int(counted[0][0])


def audit_query_sql(query: AuditQuery, d: Dialect) -> tuple[str, list[object]]:
    p = Params(d)
    where = []
    if query.since is not None:
        where.append(f"at >= {p.bind(d.ts_param(query.since))}")
    if query.actor is not None:
        where.append(f"actor = {p.bind(query.actor)}")
    if query.action is not None:
        where.append(f"action = {p.bind(query.action)}")
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    limit = p.bind(max(0, query.limit))
    return f"SELECT {AUDIT_COLUMNS} FROM audit{clause} ORDER BY id DESC LIMIT {limit}", p.values


def audit_from_row(row: Row, d: Dialect) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        at=d.ts_column(row["at"]),
        actor=row["actor"],
        action=row["action"],
        record_type=row["record_type"],
        record_id=row["record_id"],
    )


class AuditMethods:
    """Mixed into store_base.SqlStore, which supplies the transactions."""

    def _read_tx(self) -> AbstractAsyncContextManager[Tx]:
        raise NotImplementedError

    def _write_tx(self) -> AbstractAsyncContextManager[Tx]:
        raise NotImplementedError

    async def record_audit(self, entries: Sequence[AuditEntry]) -> None:
        if not entries:
            return  # a view that showed nobody: no transaction
        async with self._write_tx() as tx:
            await append_audit(tx, *entries)

    async def audit(self, query: AuditQuery) -> list[AuditEntry]:
        async with self._read_tx() as tx:
            statement, args = audit_query_sql(query, tx.dialect)
            return [audit_from_row(r, tx.dialect) for r in await tx.rows(statement, *args)]
