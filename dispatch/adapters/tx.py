"""Tx: one open connection of either store, in a write transaction or
reading, as the SQL shared by both stores (store_base, triage_sql,
grouping_sql) sees it. Each store implements it over its driver
(store_sqlite_sql.SqliteTx, store_postgres_sql.PostgresTx); statements come
already rendered for `dialect` (dialect.Sql.on)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from dispatch.adapters.dialect import Dialect
from dispatch.adapters.store_common import Draft, Row
from dispatch.core.model import Event


class Tx(ABC):
    dialect: ClassVar[Dialect]

    @abstractmethod
    async def rows(self, sql: str, *args: Any) -> list[Row]: ...

    @abstractmethod
    async def execute(self, sql: str, *args: Any) -> None: ...

    async def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One round trip for many rows (asyncpg pipelines executemany)."""
        if rows:
            await self._execute_many(sql, rows)

    @abstractmethod
    async def _execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    @abstractmethod
    async def new_ids(self, table: str, n: int) -> list[int]:
        """n fresh ids for `table`, taken before inserting so that a batch
        of rows goes in with one executemany."""

    @abstractmethod
    async def bump(self, n: int) -> int:
        """Take n event seqs (n = 0: only lock the counter); the last one."""

    @abstractmethod
    async def append(self, drafts: Sequence[Draft]) -> list[Event]:
        """Write events whose seqs this transaction has taken, chained to
        their channels' previous events (dispatch.ports.store.Store: links)."""

    async def insert_id(self, sql: str, *args: Any) -> int:
        """Run an INSERT ... RETURNING id; the id."""
        rows = await self.rows(sql, *args)
        return int(rows[0][0])
