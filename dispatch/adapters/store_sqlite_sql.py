"""SQLite statements of the store, and the event append they share."""

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite

from dispatch.adapters.store_common import (
    EVENT_COLUMNS,
    Draft,
    channels_of,
    dumps,
    link,
    ts_text,
)
from dispatch.core.model import Event

BUMP = "UPDATE event_seq SET value = value + 1 WHERE id = 1 RETURNING value"
BUMP_BY = "UPDATE event_seq SET value = value + ? WHERE id = 1 RETURNING value"
ALERT_ROW = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT value FROM event_seq WHERE id = 1) + ?)"
USER_CHUNK = 100  # 9 parameters a row
# 13 parameters a row: 64 rows stay under SQLite's historical limit of 999.
MAX_ALERT_BATCH = 64
INSERT_EVENT = f"INSERT INTO events ({EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?)"
UPSERT_HEAD = (
    "INSERT INTO channel_heads (channel, last) VALUES (?, ?) ON CONFLICT (channel) DO UPDATE SET last = excluded.last"
)


async def append_events(db: aiosqlite.Connection, drafts: Sequence[Draft]) -> list[Event]:
    """Write events whose seqs this write transaction has taken, chained to
    their channels' previous events (ports.Store: links)."""
    names = channels_of(drafts)
    heads: dict[str, int] = {}
    if names:
        rows = await db.execute_fetchall(
            "SELECT channel, last FROM channel_heads WHERE channel IN (SELECT value FROM json_each(?))",
            (dumps(names),),
        )
        heads = {r[0]: r[1] for r in rows}
    events, new_heads = link(drafts, heads)
    await db.executemany(
        INSERT_EVENT, [(e.seq, e.type, dumps(e.data), ts_text(e.created_at), dumps(e.links)) for e in events]
    )
    await db.executemany(
        "INSERT INTO event_channels (channel, seq) VALUES (?, ?)", [(c, e.seq) for e in events for c in e.links]
    )
    await db.executemany(UPSERT_HEAD, [(c, new_heads[c]) for c in names])
    return events
