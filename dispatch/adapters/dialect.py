"""The two SQL dialects, described once: how SQLite (sqlite3 through
aiosqlite) and PostgreSQL (asyncpg) spell a parameter, a list parameter, a
row lock and a timestamp. Every statement both stores run is written once
against a Dialect (an `Sql`, or a `Params` for the few built per call), never
copied per backend."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from dispatch.adapters.store_common import dumps, to_utc, ts_from_text, ts_identity, ts_text


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class Dialect:
    name: str
    # "$1", "$2", ... (asyncpg) rather than "?" (sqlite3)
    numbered_params: bool
    # with {column} and {p}: the clause matching a column against one list parameter
    int_list_match: str
    text_list_match: str
    # a Python sequence as that list parameter
    list_param: Callable[[Sequence[Any]], Any]
    # an aware datetime as a parameter, and a timestamp column back as aware UTC
    ts_param: Callable[[datetime], Any]
    ts_column: Callable[[Any], datetime]
    # appended to a SELECT that must lock its rows until commit
    lock_rows: str

    def param(self, position: int) -> str:
        """The placeholder of the 1-based `position`."""
        return f"${position}" if self.numbered_params else "?"

    def render(self, text: str) -> str:
        """`text` written with `?` placeholders, in this dialect. For
        statements built once (Sql), not per call."""
        if not self.numbered_params:
            return text
        head, *rest = text.split("?")
        return head + "".join(f"${i}{part}" for i, part in enumerate(rest, 1))

    def in_ints(self, column: str, p: str = "?") -> str:
        return self.int_list_match.format(column=column, p=p)

    def in_texts(self, column: str, p: str = "?") -> str:
        return self.text_list_match.format(column=column, p=p)

    def opt_ts_param(self, ts: datetime | None) -> Any:
        return None if ts is None else self.ts_param(ts)

    def opt_ts_column(self, value: Any) -> datetime | None:
        return None if value is None else self.ts_column(value)


def _json_list(values: Sequence[Any]) -> str:
    return dumps(list(values))


# SQLite has no array parameters: a list travels as JSON text that
# json_each() unpacks.
SQLITE = Dialect(
    name="sqlite",
    numbered_params=False,
    int_list_match="{column} IN (SELECT value FROM json_each({p}))",
    text_list_match="{column} IN (SELECT value FROM json_each({p}))",
    list_param=_json_list,
    # fixed-width ISO text: compares like the instants it names
    ts_param=ts_text,
    ts_column=ts_from_text,
    # BEGIN IMMEDIATE already makes this connection the only writer
    lock_rows="",
)

POSTGRES = Dialect(
    name="postgres",
    numbered_params=True,
    int_list_match="{column} = ANY({p}::bigint[])",
    text_list_match="{column} = ANY({p}::text[])",
    list_param=list,
    ts_param=to_utc,
    ts_column=ts_identity,
    lock_rows=" FOR UPDATE",
)

DIALECTS = (SQLITE, POSTGRES)


class Sql:
    """A statement written once: `build` spells it with `?` placeholders and
    the dialect's fragments. Rendered for every dialect here, at import, so
    running it costs a dict lookup (20 ns) where rewriting the placeholders
    per execution took a regex pass (3 us for an incident UPDATE)."""

    __slots__ = ("_text",)

    def __init__(self, build: Callable[[Dialect], str] | str) -> None:
        self._text = {d.name: d.render(build if isinstance(build, str) else build(d)) for d in DIALECTS}

    def on(self, d: Dialect) -> str:
        return self._text[d.name]


def locking(build: Callable[[Dialect], str]) -> tuple[Sql, Sql]:
    """The same SELECT twice: as is, and locking its rows until commit."""
    return Sql(build), Sql(lambda d: build(d) + d.lock_rows)


class Params:
    """The values of a statement built per call (a WHERE of optional
    filters): bind() keeps the value and returns its placeholder."""

    __slots__ = ("d", "values")

    def __init__(self, d: Dialect) -> None:
        self.d = d
        self.values: list[Any] = []

    def bind(self, value: Any) -> str:
        self.values.append(value)
        return self.d.param(len(self.values))
