"""Helpers for the data-protection tests: read a database the way an
auditor would (every table, every column), on either store."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

import asyncpg

from dispatch.adapters.store_common import ts_text


async def tables(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, as dicts, straight from the database."""
    if url.startswith("sqlite:///"):
        con = sqlite3.connect(url.removeprefix("sqlite:///"))
        con.row_factory = sqlite3.Row
        try:
            names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            return {n: [dict(r) for r in con.execute(f'SELECT * FROM "{n}"')] for n in names}
        finally:
            con.close()
    pg = await asyncpg.connect(url)
    try:
        names = [r[0] for r in await pg.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        return {n: [dict(r) for r in await pg.fetch(f'SELECT * FROM "{n}"')] for n in names}
    finally:
        await pg.close()


def holding(db: dict[str, list[dict[str, Any]]], needles: list[str]) -> list[str]:
    """table.column of every value that contains one of `needles` (as text)."""
    found = []
    for table, rows in db.items():
        for row in rows:
            for column, value in row.items():
                text = str(value)
                for needle in needles:
                    if needle and needle in text:
                        found.append(f"{table}.{column} holds {needle!r}")
    return found


async def execute(url: str, sql: str, *args: Any) -> None:
    """One statement written with `?` placeholders, run straight on the
    database (the tests age rows this way: a timestamp is a datetime, stored
    as each store stores it)."""
    if url.startswith("sqlite:///"):
        values = [ts_text(a) if isinstance(a, datetime) else a for a in args]
        con = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=30)
        try:
            con.execute(sql, values)
            con.commit()
        finally:
            con.close()
        return
    head, *rest = sql.split("?")
    numbered = head + "".join(f"${i}{part}" for i, part in enumerate(rest, 1))
    pg = await asyncpg.connect(url)
    try:
        await pg.execute(numbered, *args)
    finally:
        await pg.close()
