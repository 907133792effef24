"""The Store methods of out-of-band delivery (migration 9), written once for
both stores over a Tx, as OutboxMethods, which store_base.SqlStore inherits:
notification settings, push subscriptions, the outbox (enqueue, claim with
a lease, finish), SMS status reports and receipts.

Claiming: one UPDATE of the due rows' lease, RETURNING them. On PostgreSQL
its subquery locks them FOR UPDATE SKIP LOCKED, so two workers claiming at
once take disjoint rows without waiting on each other; on SQLite the write
transaction is BEGIN IMMEDIATE, the only writer, which does the same."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, ClassVar

from dispatch.adapters.dialect import Dialect, Sql
from dispatch.adapters.store_common import RESIDENT_ROLES_SQL, Draft, Row, dumps, loads, to_utc
from dispatch.adapters.tx import Tx
from dispatch.core.audience import box_around
from dispatch.core.model import Alert, Event
from dispatch.core.notify_settings import NotifySettings
from dispatch.core.outbox import Fanout, NewOutbox, OutboxItem, Recipient, plan
from dispatch.core.routing import OPS

OUTBOX_COLUMNS = "id, kind, ref_id, user_id, channel, ext_id, dest, subject, body, level, attempts, created_at"

GET_SETTINGS = Sql("SELECT channels, levels, categories FROM notify_settings WHERE user_id = ?")
PUT_SETTINGS = Sql(
    "INSERT INTO notify_settings (user_id, channels, levels, categories, updated_at) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (user_id) DO UPDATE SET channels = excluded.channels, levels = excluded.levels,"
    " categories = excluded.categories, updated_at = excluded.updated_at"
)
SET_PHONE = Sql("UPDATE users SET phone = ? WHERE id = ?")
# a browser's subscription belongs to whoever registered it last
ADD_SUBSCRIPTION = Sql(
    "INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth, created_at) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (endpoint) DO UPDATE SET user_id = excluded.user_id, p256dh = excluded.p256dh,"
    " auth = excluded.auth RETURNING id"
)
SUBSCRIPTIONS = Sql("SELECT endpoint, p256dh, auth FROM push_subscriptions WHERE user_id = ? ORDER BY id")
DROP_SUBSCRIPTION = Sql("DELETE FROM push_subscriptions WHERE endpoint = ?")
# the audience of a fan-out that has settings (no row: the defaults, app only)
OPTED_IN = Sql(
    lambda d: (
        "SELECT u.id, u.email, u.phone, n.channels, n.levels, n.categories,"
        " EXISTS (SELECT 1 FROM push_subscriptions p WHERE p.user_id = u.id) AS has_push"
        " FROM notify_settings n JOIN users u ON u.id = n.user_id"
        f" WHERE {d.in_ints('n.user_id')} AND u.status = 'validated' AND u.disabled_at IS NULL"
    )
)
# the homes of residents who may want a batch of new alerts outside the app,
# in one statement (it runs inside the write lock): validated residents who
# opted in to some category, at home in one of the batch's sectors or inside
# the box around all its circles. Candidates only: each alert keeps those who
# want its category, the exact rule is core.audience's, and core.outbox.plan
# checks the category again.
ALERT_WATCHERS = Sql(
    lambda d: (
        "SELECT u.id, u.home_lat, u.home_lon, u.home_sector, n.categories"
        " FROM notify_settings n JOIN users u ON u.id = n.user_id"
        f" WHERE n.categories <> '[]' AND u.status = 'validated' AND u.disabled_at IS NULL AND u.role IN {RESIDENT_ROLES_SQL}"
        " AND u.home_lat IS NOT NULL AND u.home_lon IS NOT NULL"
        f" AND ({d.in_texts('u.home_sector')} OR (u.home_lat BETWEEN ? AND ? AND u.home_lon BETWEEN ? AND ?))"
    )
)
INSERT_OUTBOX = Sql(
    "INSERT INTO outbox (kind, ref_id, user_id, channel, ext_id, dest, subject, body, level, status, attempts,"
    " next_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?) ON CONFLICT DO NOTHING"
)
CLAIM = Sql(
    lambda d: (
        "UPDATE outbox SET lease_until = ?, lease_owner = ?, attempts = attempts + 1 WHERE id IN ("
        "SELECT id FROM outbox WHERE status = 'queued' AND channel = ? AND next_at <= ?"
        " AND (lease_until IS NULL OR lease_until <= ?) ORDER BY next_at, id LIMIT ?"
        f"{d.lock_rows + ' SKIP LOCKED' if d.lock_rows else ''}) RETURNING {OUTBOX_COLUMNS}"
    )
)
# only the lease holder finishes a row, and never one a status report
# already marked delivered or failed
FINISH = Sql(
    "UPDATE outbox SET status = ?, next_at = ?, sent_at = ?, error = ?, lease_until = NULL, lease_owner = NULL"
    " WHERE id = ? AND lease_owner = ? AND status = 'queued'"
)
SMS_STATUS = Sql(
    "UPDATE outbox SET status = ? WHERE ext_id = ? AND channel = 'sms' AND status IN ('queued', 'sent')"
    " RETURNING kind, ref_id"
)
DEPTH = Sql("SELECT channel, COUNT(*) FROM outbox WHERE status = 'queued' GROUP BY channel")
RECEIPTS = Sql("SELECT channel, status, COUNT(*) FROM outbox WHERE kind = ? AND ref_id = ? GROUP BY channel, status")
PUT_APP_RECEIPT = Sql(
    "INSERT INTO app_receipts (broadcast_id, worker, delivered) VALUES (?, ?, ?)"
    " ON CONFLICT (broadcast_id, worker) DO UPDATE SET delivered = app_receipts.delivered + excluded.delivered"
)
APP_RECEIPTS = Sql("SELECT COALESCE(SUM(delivered), 0) FROM app_receipts WHERE broadcast_id = ?")


def item_from_row(row: Row, d: Dialect) -> OutboxItem:
    return OutboxItem(
        id=int(row["id"]),
        kind=row["kind"],
        ref_id=int(row["ref_id"]),
        user_id=int(row["user_id"]),
        channel=row["channel"],
        ext_id=row["ext_id"],
        dest=row["dest"],
        subject=row["subject"],
        body=row["body"],
        level=row["level"],
        attempts=int(row["attempts"]),
        created_at=d.ts_column(row["created_at"]),
    )


async def insert_outbox(tx: Tx, items: Sequence[NewOutbox], now: datetime) -> None:
    """One executemany for every row (10,000 recipients: one round trip)."""
    d = tx.dialect
    at = d.ts_param(now)
    rows = [
        (i.kind, i.ref_id, i.user_id, i.channel, i.ext_id, i.dest, i.subject, i.body, i.level, at, at) for i in items
    ]
    await tx.execute_many(INSERT_OUTBOX.on(d), rows)


async def opted_in(tx: Tx, audience: Sequence[int]) -> list[Recipient]:
    """Those of `audience` that saved settings (the others: app only)."""
    if not audience:
        return []
    d = tx.dialect
    found = await tx.rows(OPTED_IN.on(d), d.list_param(list(audience)))
    return [
        (
            int(r["id"]),
            r["email"],
            r["phone"],
            NotifySettings(tuple(loads(r["channels"])), tuple(loads(r["levels"])), tuple(loads(r["categories"]))),
            bool(r["has_push"]),
        )
        for r in found
    ]


async def enqueue_fanout(tx: Tx, fanout: Fanout, ref_id: int, now: datetime) -> int:
    """In the transaction that stores the message: a row per opted-in
    recipient and channel (core.outbox.plan decides). How many rows."""
    items = plan(fanout, ref_id, await opted_in(tx, fanout.audience))
    await insert_outbox(tx, items, now)
    return len(items)


# (user id, home lat, lon, sector, the categories it wants outside the app)
Watcher = tuple[int, float, float, str | None, frozenset[str]]


async def alert_watchers(tx: Tx, alerts: Sequence[Alert], radius_m: float) -> list[Watcher]:
    """The candidates for the nearby messages of a batch of new alerts:
    a superset, each alert keeps those who want its category and whom
    core.audience.nearby_fanout keeps."""
    if not alerts:
        return []
    boxes = [box_around(a.lat, a.lon, radius_m) for a in alerts]
    south, west = min(b[0] for b in boxes), min(b[1] for b in boxes)
    north, east = max(b[2] for b in boxes), max(b[3] for b in boxes)
    d = tx.dialect
    sectors = d.list_param(sorted({a.sector for a in alerts}))
    rows = await tx.rows(ALERT_WATCHERS.on(d), sectors, south, north, west, east)
    return [(int(r[0]), float(r[1]), float(r[2]), r[3], frozenset(loads(r[4]))) for r in rows]


class OutboxMethods:
    """Mixed into store_base.SqlStore, which supplies the transactions."""

    dialect: ClassVar[Dialect]

    def _read_tx(self) -> AbstractAsyncContextManager[Tx]:
        raise NotImplementedError

    def _write_tx(self) -> AbstractAsyncContextManager[Tx]:
        raise NotImplementedError

    async def sms_recipients(self, audience: Sequence[int], level: str) -> int:
        async with self._read_tx() as tx:
            found = await opted_in(tx, audience)
        return sum(1 for _, _, phone, s, _ in found if phone and "sms" in s.for_broadcast(level))

    async def notify_settings(self, user_id: int) -> NotifySettings | None:
        async with self._read_tx() as tx:
            rows = await tx.rows(GET_SETTINGS.on(tx.dialect), user_id)
        if not rows:
            return None
        r = rows[0]
        return NotifySettings(tuple(loads(r[0])), tuple(loads(r[1])), tuple(loads(r[2])))

    async def put_notify_settings(
        self, user_id: int, settings: NotifySettings, phone: str | None, set_phone: bool, now: datetime
    ) -> None:
        async with self._write_tx() as tx:
            d = tx.dialect
            lists = (dumps(settings.channels), dumps(settings.levels), dumps(settings.categories))
            await tx.execute(PUT_SETTINGS.on(d), user_id, *lists, d.ts_param(now))
            if set_phone:
                await tx.execute(SET_PHONE.on(d), phone, user_id)

    async def add_push_subscription(self, user_id: int, endpoint: str, p256dh: str, auth: str, now: datetime) -> int:
        async with self._write_tx() as tx:
            d = tx.dialect
            return await tx.insert_id(ADD_SUBSCRIPTION.on(d), user_id, endpoint, p256dh, auth, d.ts_param(now))

    async def push_subscriptions(self, user_id: int) -> list[tuple[str, str, str]]:
        async with self._read_tx() as tx:
            rows = await tx.rows(SUBSCRIPTIONS.on(tx.dialect), user_id)
        return [(r[0], r[1], r[2]) for r in rows]

    async def drop_push_subscription(self, endpoint: str) -> None:
        async with self._write_tx() as tx:
            await tx.execute(DROP_SUBSCRIPTION.on(tx.dialect), endpoint)

    async def enqueue(self, items: Sequence[NewOutbox], now: datetime) -> None:
        async with self._write_tx() as tx:
            await insert_outbox(tx, items, now)

    async def claim_outbox(
        self, channel: str, limit: int, owner: str, now: datetime, lease_until: datetime
    ) -> list[OutboxItem]:
        async with self._write_tx() as tx:
            d = tx.dialect
            at = d.ts_param(now)
            rows = await tx.rows(CLAIM.on(d), d.ts_param(lease_until), owner, channel, at, at, limit)
        return sorted((item_from_row(r, d) for r in rows), key=lambda i: i.id)

    async def finish_outbox(
        self, owner: str, results: Sequence[tuple[int, str, datetime, datetime | None, str | None]]
    ) -> None:
        """(id, status, next_at, sent_at, error) of each row this owner holds."""
        async with self._write_tx() as tx:
            d = tx.dialect
            rows = [(s, d.ts_param(n), d.opt_ts_param(t), e, i, owner) for i, s, n, t, e in results]
            await tx.execute_many(FINISH.on(d), rows)

    async def sms_status(self, ext_id: str, status: str) -> tuple[str, int] | None:
        """Mark a sent SMS delivered or failed; the message it belongs to."""
        async with self._write_tx() as tx:
            rows = await tx.rows(SMS_STATUS.on(tx.dialect), status, ext_id)
        return (rows[0][0], int(rows[0][1])) if rows else None

    async def outbox_counts(self, kind: str, ref_id: int) -> dict[str, dict[str, int]]:
        """channel -> status -> rows."""
        async with self._read_tx() as tx:
            rows = await tx.rows(RECEIPTS.on(tx.dialect), kind, ref_id)
        out: dict[str, dict[str, int]] = {}
        for channel, status, n in rows:
            out.setdefault(channel, {})[status] = int(n)
        return out

    async def outbox_depth(self) -> dict[str, int]:
        async with self._read_tx() as tx:
            rows = await tx.rows(DEPTH.on(tx.dialect))
        return {channel: int(n) for channel, n in rows}

    async def append_ops_event(self, event_type: str, data: dict[str, Any], now: datetime) -> Event:
        """An event for the ops screens alone (broadcast.receipts)."""
        async with self._write_tx() as tx:
            seq = await tx.bump(1)
            (event,) = await tx.append([Draft(seq, event_type, data, to_utc(now), (OPS,))])
        return event

    async def put_app_receipt(self, broadcast_id: int, worker: str, delivered: int) -> None:
        async with self._write_tx() as tx:
            await tx.execute(PUT_APP_RECEIPT.on(tx.dialect), broadcast_id, worker, delivered)

    async def app_delivered(self, broadcast_id: int) -> int:
        async with self._read_tx() as tx:
            rows = await tx.rows(APP_RECEIPTS.on(tx.dialect), broadcast_id)
        return int(rows[0][0]) if rows else 0


__all__ = ["OutboxMethods", "alert_watchers", "enqueue_fanout", "insert_outbox", "item_from_row"]
