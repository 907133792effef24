"""The audit table on both stores (migration 7): written in the transaction
of what it records, read back newest first with its filters, and
append-only to the application's own connection; only purge_audit removes
old entries, and only those."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from dispatch.adapters import open_store
from dispatch.adapters.audit_sql import append_audit, purge_audit
from dispatch.adapters.store_base import SqlStore
from dispatch.core.audit import AuditEntry, AuditQuery

T0 = datetime(2024, 5, 1, 8, 30, 0, 123456, tzinfo=UTC)
REFUSED = (sqlite3.IntegrityError, asyncpg.RaiseError)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'd.sqlite3'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[SqlStore]:
    s = open_store(db_url, pool_size=4)
    assert isinstance(s, SqlStore)
    await s.connect()
    await s.migrate()
    yield s
    await s.close()


def entry(action: str, record_id: int, actor: int | None, at: datetime) -> AuditEntry:
    return AuditEntry(action, "alert", record_id, actor, at)


async def test_entries_read_back_newest_first_with_filters(store: SqlStore) -> None:
    await store.record_audit([entry("alert.patch", 1, 7, T0), entry("identity.view", 2, 8, T0 + timedelta(1))])
    await store.record_audit([AuditEntry("purge", "store", None, None, T0 + timedelta(2))])
    got = await store.audit(AuditQuery())
    assert [(e.action, e.record_id, e.actor) for e in got] == [
        ("purge", None, None),
        ("identity.view", 2, 8),
        ("alert.patch", 1, 7),
    ]
    assert got[2].at == T0 and got[0].id is not None and got[0].id > got[1].id  # type: ignore[operator]
    assert [e.record_id for e in await store.audit(AuditQuery(actor=7))] == [1]
    assert [e.record_id for e in await store.audit(AuditQuery(action="identity.view"))] == [2]
    assert [e.action for e in await store.audit(AuditQuery(since=T0 + timedelta(1)))] == ["purge", "identity.view"]
    assert len(await store.audit(AuditQuery(limit=1))) == 1


async def test_an_entry_rolls_back_with_the_write_it_records(store: SqlStore) -> None:
    with pytest.raises(RuntimeError):
        async with store._write_tx() as tx:
            await append_audit(tx, entry("alert.patch", 1, 7, T0))
            raise RuntimeError("the action failed")
    assert await store.audit(AuditQuery()) == []


async def test_the_application_cannot_update_or_delete_entries(store: SqlStore) -> None:
    await store.record_audit([entry("alert.patch", 1, 7, T0)])
    statements = ["UPDATE audit SET actor = 0", "DELETE FROM audit", "UPDATE audit SET action = 'x' WHERE id > 0"]
    if store.dialect.name == "postgres":
        statements.append("TRUNCATE audit")
    for statement in statements:
        with pytest.raises(REFUSED):
            async with store._write_tx() as tx:
                await tx.execute(statement)
    assert [(e.actor, e.action) for e in await store.audit(AuditQuery())] == [(7, "alert.patch")]


async def test_only_the_purge_removes_old_entries_and_the_guard_stays(store: SqlStore) -> None:
    await store.record_audit([entry("alert.patch", 1, 7, T0), entry("alert.patch", 2, 7, T0 + timedelta(days=400))])
    async with store._write_tx() as tx:
        assert await purge_audit(tx, T0 + timedelta(days=1)) == 1
        await append_audit(tx, AuditEntry("purge", "store", None, None, T0 + timedelta(days=401)))
    assert [e.record_id for e in await store.audit(AuditQuery())] == [None, 2]
    with pytest.raises(REFUSED):  # the guard is back, and in every transaction after the purge's
        async with store._write_tx() as tx:
            await tx.execute("DELETE FROM audit")
    assert len(await store.audit(AuditQuery())) == 2


async def test_a_proof_view_is_audited_with_it(store: SqlStore) -> None:
    await store.record_proof_view(5, 42, None, T0)
    (e,) = await store.audit(AuditQuery())
    assert (e.action, e.record_type, e.record_id, e.actor, e.at) == ("proof.view", "account", 42, 5, T0)


def test_entries_name_only_known_actions() -> None:
    with pytest.raises(ValueError):
        AuditEntry("alert.pach", "alert", 1, 7, T0)
    with pytest.raises(ValueError):
        AuditEntry("alert.patch", "resident name", 1, 7, T0)
