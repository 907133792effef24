"""SqlStore: the Store methods both adapters run alike, written once over a
Tx (tx.py): the reads of accounts, alerts and the event log, triage and its
reads (triage_sql), joining and moderation (store_moderation), the audit (audit_sql), and the end of create_alert_grouped's transaction that
groups the new alerts (grouping_sql) and writes their events.

Each adapter (store_sqlite.SqliteStore, store_postgres.PostgresStore)
supplies _read_tx and _write_tx and the writes it does its own way."""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, ClassVar

from dispatch.adapters import store_sql as sql
from dispatch.adapters import triage_sql
from dispatch.adapters.audit_sql import AuditMethods, append_audit
from dispatch.adapters.dialect import Dialect
from dispatch.adapters.grouping_sql import FactsCache, GroupCache, group_new_alerts
from dispatch.adapters.store_common import (
    Draft,
    alert_from_row,
    broadcast_from_row,
    event_from_row,
    norm_email,
    to_utc,
    user_from_row,
)
from dispatch.adapters.store_moderation import ModerationMethods
from dispatch.adapters.store_outbox import OutboxMethods, alert_watchers, enqueue_fanout
from dispatch.adapters.store_privacy import PrivacyMethods
from dispatch.adapters.tx import Tx
from dispatch.core.audience import nearby_fanout
from dispatch.core.audit import AuditEntry
from dispatch.core.changes import Change, Saved, TriageState
from dispatch.core.model import (
    Alert,
    AlertQuery,
    Broadcast,
    Event,
    Incident,
    IncidentQuery,
    NewAlert,
    Session,
    Unit,
    User,
    utcnow,
)
from dispatch.core.routing import CONTROL
from dispatch.core.views import alert_staff
from dispatch.ports.grouping import Grouping
from dispatch.ports.store import DuplicateUnit


class SqlStore(ModerationMethods, AuditMethods, PrivacyMethods, OutboxMethods, ABC):
    dialect: ClassVar[Dialect]

    def __init__(self, grouping: Grouping | None) -> None:
        self.grouping = grouping
        self._groups = GroupCache(FactsCache())  # candidate incidents as grouping sees them

    @abstractmethod
    def _read_tx(self) -> AbstractAsyncContextManager[Tx]:
        """One connection, no transaction (reads)."""

    @abstractmethod
    def _write_tx(self) -> AbstractAsyncContextManager[Tx]:
        """One write transaction, rolled back if the body raises."""

    async def _rows(self, statement: str, *args: Any) -> list[Any]:
        async with self._read_tx() as tx:
            return await tx.rows(statement, *args)

    async def _row(self, statement: str, *args: Any) -> Any:
        return next(iter(await self._rows(statement, *args)), None)

    # -- accounts -----------------------------------------------------------

    async def user_by_email(self, email: str) -> User | None:
        d = self.dialect
        row = await self._row(sql.USER_BY_EMAIL.on(d), norm_email(email))
        return None if row is None else user_from_row(row, d.ts_column)

    async def user_by_id(self, user_id: int) -> User | None:
        d = self.dialect
        row = await self._row(sql.USER_BY_ID.on(d), user_id)
        return None if row is None else user_from_row(row, d.ts_column)

    async def user_by_phone(self, phone: str) -> User | None:
        d = self.dialect
        row = await self._row(sql.USER_BY_PHONE.on(d), phone)
        return None if row is None else user_from_row(row, d.ts_column)

    async def session_user(self, token_hash: str, now: datetime) -> User | None:
        found = await self.session(token_hash, now)
        return None if found is None else found.user

    async def session(self, token_hash: str, now: datetime) -> Session | None:
        d = self.dialect
        row = await self._row(sql.SESSION.on(d), token_hash, d.ts_param(now))
        if row is None:
            return None
        return Session(user_from_row(row, d.ts_column), bool(row["wall"]), d.ts_column(row["last_used_at"]))

    async def sessions(self, token_hashes: Sequence[str], now: datetime) -> dict[str, Session]:
        d = self.dialect
        rows = await self._rows(sql.SESSIONS.on(d), d.list_param(token_hashes), d.ts_param(now))
        return {
            str(r["token_hash"]): Session(
                user_from_row(r, d.ts_column), bool(r["wall"]), d.ts_column(r["last_used_at"])
            )
            for r in rows
        }

    async def set_password(self, email: str, password_hash: str) -> int | None:
        async with self._write_tx() as tx:
            rows = await tx.rows(sql.SET_PASSWORD.on(tx.dialect), password_hash, norm_email(email))
            if rows:  # the CLI's: the system acts
                await append_audit(tx, AuditEntry("account.password", "account", int(rows[0][0]), None, utcnow()))
        return int(rows[0][0]) if rows else None

    async def disable_user(self, email: str, now: datetime) -> int | None:
        async with self._write_tx() as tx:
            rows = await tx.rows(sql.DISABLE_USER.on(tx.dialect), tx.dialect.ts_param(now), norm_email(email))
            if rows:
                await append_audit(tx, AuditEntry("account.disable", "account", int(rows[0][0]), None, now))
        return int(rows[0][0]) if rows else None

    async def list_accounts(self, role: str | None = None) -> list[tuple[int, str, str, str]]:
        d = self.dialect
        rows = (
            await self._rows(sql.LIST_ACCOUNTS.on(d))
            if role is None
            else await self._rows(sql.LIST_ACCOUNTS_OF.on(d), role)
        )
        return [(int(r[0]), r[1], r[2], r[3]) for r in rows]

    async def touch_session(self, token_hash: str, at: datetime) -> None:
        async with self._write_tx() as tx:
            await tx.execute(sql.TOUCH_SESSION.on(tx.dialect), tx.dialect.ts_param(at), token_hash)

    async def end_sessions(self, user_id: int, token_hash: str | None, code: int, now: datetime) -> Event:
        """Delete the account's sessions (only `token_hash` when given) and
        append `session.ended` on the control channel, in one transaction."""
        d = self.dialect
        async with self._write_tx() as tx:
            seq = await tx.bump(1)
            if token_hash is None:
                await tx.execute(sql.END_SESSIONS_OF_USER.on(d), user_id)
            else:
                await tx.execute(sql.END_SESSION.on(d), token_hash)
            data = {"user": user_id, "token": token_hash, "code": code}
            (event,) = await tx.append([Draft(seq, "session.ended", data, to_utc(now), (CONTROL,))])
        return event

    async def resident_homes(self, sectors: Sequence[str] | None = None) -> list[tuple[int, float, float, str | None]]:
        d = self.dialect
        if sectors is None:
            rows = await self._rows(sql.RESIDENT_HOMES.on(d))
        else:
            rows = await self._rows(sql.RESIDENT_HOMES_IN.on(d), d.list_param(sectors))
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    # -- alerts and broadcasts ---------------------------------------------

    async def get_alert(self, alert_id: int) -> Alert | None:
        d = self.dialect
        row = await self._row(sql.GET_ALERT.on(d), alert_id)
        return None if row is None else alert_from_row(row, d.ts_column)

    async def list_alerts(self, query: AlertQuery) -> list[Alert]:
        d = self.dialect
        statement, args = sql.alert_query_sql(query, d)
        return [alert_from_row(r, d.ts_column) for r in await self._rows(statement, *args)]

    async def get_broadcast(self, broadcast_id: int) -> Broadcast | None:
        """Not in the Store protocol (yet): lets the contract suite read back a broadcast."""
        d = self.dialect
        row = await self._row(sql.GET_BROADCAST.on(d), broadcast_id)
        return None if row is None else broadcast_from_row(row, d.ts_column)

    async def list_broadcasts(self, since: datetime, limit: int) -> list[Broadcast]:
        d = self.dialect
        rows = await self._rows(sql.BROADCASTS_SINCE.on(d), d.ts_param(since), limit)
        return [broadcast_from_row(r, d.ts_column) for r in rows]

    async def _created(
        self, tx: Tx, batch: Sequence[NewAlert], created: list[tuple[int, Alert]]
    ) -> tuple[list[tuple[int, Alert]], list[Event], list[Event], dict[int, int]]:
        """In create_alert_grouped's transaction, for the alerts it inserted
        ((index in batch, alert)): group them into incidents, then write
        their alert.created events and those grouping caused in one append
        (one round trip for both), and queue their nearby messages. Returns
        the alerts as grouped, their events, the grouping events, and the
        outbox rows queued by index in batch."""
        if not created:
            return created, [], [], {}
        grouped = None
        if self.grouping is not None:
            now = utcnow()
            updated, change, saved = await group_new_alerts(
                tx, self.grouping, self._groups, [a for _, a in created], now
            )
            created = [(i, a) for (i, _), a in zip(created, updated)]
            grouped = (change, saved, now)
        mine = [Draft(a.seq, "alert.created", alert_staff(a), a.created_at, batch[i].channels) for i, a in created]
        theirs = await triage_sql.drafts(tx, *grouped) if grouped else []
        events = await tx.append(mine + theirs)
        return created, events[: len(mine)], events[len(mine) :], await self._queue_nearby(tx, batch, created)

    async def _queue_nearby(
        self, tx: Tx, batch: Sequence[NewAlert], created: list[tuple[int, Alert]]
    ) -> dict[int, int]:
        """The nearby residents' outbox rows of the alerts created, in their
        transaction: one read of the candidates for the whole batch. The
        rows queued, by index in batch."""
        wanted = [(i, a, nearby) for i, a in created if (nearby := batch[i].nearby) is not None]
        if not wanted:
            return {}
        radius_m = max(nearby.radius_m for _, _, nearby in wanted)
        watchers = await alert_watchers(tx, [a for _, a, _ in wanted], radius_m)
        queued = {}
        for i, a, nearby in wanted:
            homes = [w[:4] for w in watchers if a.category in w[4]]
            fanout = nearby_fanout(nearby, batch[i].author, a.category, a.lat, a.lon, a.sector, homes)
            if fanout is not None:
                queued[i] = await enqueue_fanout(tx, fanout, a.id, a.created_at)
        return queued

    # -- the event log ------------------------------------------------------

    async def events_after(self, seq: int, limit: int = 1000, channel: str | None = None) -> list[Event]:
        d = self.dialect
        if channel is None:
            rows = await self._rows(sql.EVENTS_AFTER.on(d), seq, max(0, limit))
        else:
            rows = await self._rows(sql.EVENTS_AFTER_ON.on(d), channel, seq, max(0, limit))
        return [event_from_row(r, d.ts_column) for r in rows]

    async def channel_heads(self, channels: Sequence[str]) -> dict[str, int]:
        d = self.dialect
        heads = {r[0]: int(r[1]) for r in await self._rows(sql.CHANNEL_HEADS.on(d), d.list_param(channels))}
        return {c: heads.get(c, 0) for c in channels}

    async def channel_head(self, channel: str) -> int:
        return (await self.channel_heads([channel]))[channel]

    async def head_seq(self) -> int:
        row = await self._row(sql.HEAD_SEQ.on(self.dialect))
        return 0 if row is None else int(row[0])

    # -- triage: incidents and units ------------------------------------------

    async def triage(
        self,
        incident_ids: Sequence[int],
        alert_ids: Sequence[int],
        unit_ids: Sequence[int],
        decide: Callable[[TriageState], Change],
        now: datetime,
        audit: Sequence[AuditEntry] = (),
    ) -> tuple[Saved, list[Event]]:
        async with self._write_tx() as tx:
            await tx.bump(0)  # lock order: the counter row first, as create_alert_grouped does
            state = await triage_sql.load_state(tx, incident_ids, alert_ids, unit_ids, now)
            change = decide(state)
            saved = await triage_sql.save(tx, change)
            # the events name the unit of every incident they show, changed or not
            saved = dataclasses.replace(saved, units={**state.units, **saved.units})
            events = await triage_sql.emit(tx, change, saved, now)
            await append_audit(tx, *audit)
        return saved, events

    async def get_incident(self, incident_id: int) -> Incident | None:
        async with self._read_tx() as tx:
            return (await triage_sql.incidents_by_id(tx, [incident_id])).get(incident_id)

    async def incident_history(self, incident_ids: Sequence[int]) -> dict[int, tuple[dict[str, Any], ...]]:
        async with self._read_tx() as tx:
            return await triage_sql.history_of(tx, incident_ids)

    async def incident_alerts(self, incident: Incident) -> list[Alert]:
        async with self._read_tx() as tx:
            found = await triage_sql.alerts_by_id(tx, list(incident.alerts))
        return [found[i] for i in incident.alerts if i in found]

    async def list_incidents(self, query: IncidentQuery) -> list[Incident]:
        async with self._read_tx() as tx:
            return await triage_sql.list_incidents(tx, query)

    async def list_units(self) -> list[Unit]:
        async with self._read_tx() as tx:
            return await triage_sql.list_units(tx)

    async def add_unit(self, name: str, now: datetime) -> Unit:
        async with self._write_tx() as tx:
            d = tx.dialect
            if await tx.rows(triage_sql.UNIT_BY_NAME.on(d), name):
                raise DuplicateUnit(name)
            uid = await tx.insert_id(triage_sql.ADD_UNIT.on(d), name, d.ts_param(now))
        return Unit(uid, name, "available", None, to_utc(now))

    async def overdue_incidents(self, now: datetime, max_level: int) -> list[tuple[int, str, datetime, int]]:
        async with self._read_tx() as tx:
            return await triage_sql.overdue(tx, now, max_level)
