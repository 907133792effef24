"""The Store methods of joining and moderation (migration 4), written once
for both stores over a Tx, as ModerationMethods, which store_base.SqlStore
inherits: residents' accounts with their proofs, the append-only proof
views, flags, hiding and restoring alerts with their events."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, ClassVar

from dispatch.adapters.audit_sql import append_audit
from dispatch.adapters.dialect import Dialect, Sql
from dispatch.adapters.store_common import (
    ALERT_COLUMNS,
    RESIDENT_ROLES_SQL,
    USER_COLUMNS,
    Draft,
    Row,
    alert_from_row,
    loads,
    norm_email,
    to_utc,
    user_from_row,
)
from dispatch.adapters.store_sql import TAKEN_EMAILS, USER_BY_ID
from dispatch.adapters.tx import Tx
from dispatch.core.audit import AuditEntry
from dispatch.core.model import Alert, Event, Flag, NewProof, NewUser, Proof, User, evolve
from dispatch.core.routing import CONTROL, OPS
from dispatch.core.views import alert_staff
from dispatch.ports.store import DuplicateEmail, DuplicateFlag

PROOF_COLUMNS = "id, user_id, file_name, media_type, size, created_at, decided_at"
FLAG_COLUMNS = "id, alert_id, user_id, reason, created_at, resolved_at"

ADD_RESIDENT = Sql(
    "INSERT INTO users (id, role, email, password_hash, name, home_lat, home_lon, home_sector, validated, status,"
    " created_at, address, phone, on_behalf_of) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
ADD_PROOF = Sql("INSERT INTO proofs (user_id, file_name, media_type, size, created_at) VALUES (?, ?, ?, ?, ?)")
RESIDENTS_BY_STATUS = Sql(
    f"SELECT {USER_COLUMNS} FROM users WHERE status = ? AND role IN {RESIDENT_ROLES_SQL}"
    " ORDER BY created_at, id LIMIT ?"
)
LATEST_PROOF = Sql(f"SELECT {PROOF_COLUMNS} FROM proofs WHERE user_id = ? ORDER BY id DESC LIMIT 1")
RECORD_VIEW = Sql("INSERT INTO proof_views (viewer, account, proof_id, at) VALUES (?, ?, ?, ?)")
PROOF_VIEWS = Sql("SELECT viewer, at FROM proof_views WHERE account = ? ORDER BY id")
SET_STATUS = Sql("UPDATE users SET status = ?, validated = ?, status_reason = ? WHERE id = ?")
DECIDE_PROOFS = Sql("UPDATE proofs SET decided_at = ? WHERE user_id = ? AND decided_at IS NULL")
# when the account was decided on: a rejected one is kept retention.account_days from then
DECIDED = Sql("UPDATE users SET decided_at = ? WHERE id = ?")
FLAG_OF = Sql("SELECT id FROM flags WHERE alert_id = ? AND user_id = ?")
ADD_FLAG = Sql("INSERT INTO flags (alert_id, user_id, reason, created_at) VALUES (?, ?, ?, ?) RETURNING id")
OPEN_FLAGS = Sql(f"SELECT {FLAG_COLUMNS} FROM flags WHERE resolved_at IS NULL ORDER BY created_at, id LIMIT ?")
RESOLVE_FLAGS = Sql("UPDATE flags SET resolved_at = ? WHERE alert_id = ? AND resolved_at IS NULL")
ALERT_LOCKED = Sql(lambda d: f"SELECT {ALERT_COLUMNS} FROM alerts WHERE id = ?{d.lock_rows}")
SET_HIDDEN = Sql("UPDATE alerts SET hidden = ?, hide_reason = ?, updated_at = ? WHERE id = ?")
# the channels an event was published on are the keys of its links
EVENT_LINKS = Sql("SELECT links FROM events WHERE seq = ?")


async def residents_who_had(tx: Tx, created_seq: int, extra_channels: Sequence[str]) -> tuple[str, ...]:
    """The resident channels an alert's alert.created went out on, with
    `extra_channels` (its author's): where a change to it must reach."""
    created = await tx.rows(EVENT_LINKS.on(tx.dialect), created_seq)
    published = loads(created[0][0]) if created else {}
    return tuple(sorted({c for c in published if c != OPS} | set(extra_channels)))


async def append_about_alert(
    tx: Tx, alert: Alert, now: datetime, specs: Sequence[tuple[str, tuple[str, ...]]]
) -> list[Event]:
    """One event per (type, channels), each carrying the alert's staff view,
    numbered after the counter row the transaction locked first."""
    last = await tx.bump(len(specs))
    data, at, first = alert_staff(alert), to_utc(now), last - len(specs) + 1
    return await tx.append([Draft(first + k, kind, data, at, ch) for k, (kind, ch) in enumerate(specs)])


HIDDEN_AMONG = Sql(lambda d: f"SELECT id FROM alerts WHERE hidden AND {d.in_ints('id')}")


def proof_from_row(row: Row, d: Dialect) -> Proof:
    return Proof(
        id=row["id"],
        user_id=row["user_id"],
        file_name=row["file_name"],
        media_type=row["media_type"],
        size=row["size"],
        created_at=d.ts_column(row["created_at"]),
        decided_at=d.opt_ts_column(row["decided_at"]),
    )


def flag_from_row(row: Row, d: Dialect) -> Flag:
    return Flag(
        id=row["id"],
        alert_id=row["alert_id"],
        user_id=row["user_id"],
        reason=row["reason"],
        created_at=d.ts_column(row["created_at"]),
        resolved_at=d.opt_ts_column(row["resolved_at"]),
    )


class _NoSuchAccount(Exception):
    pass


class ModerationMethods:
    """Mixed into store_base.SqlStore, which supplies the transactions."""

    dialect: ClassVar[Dialect]
    # what the driver raises on a broken UNIQUE constraint (a lost race)
    unique_violation: ClassVar[tuple[type[Exception], ...]] = ()

    def _read_tx(self) -> AbstractAsyncContextManager[Tx]:
        raise NotImplementedError

    def _write_tx(self) -> AbstractAsyncContextManager[Tx]:
        raise NotImplementedError

    async def _select(self, statement: Sql, *args: Any) -> list[Row]:
        async with self._read_tx() as tx:
            return await tx.rows(statement.on(tx.dialect), *args)

    async def add_resident(self, user: NewUser, proof: NewProof) -> int:
        d = self.dialect
        email = norm_email(user.email)
        if user.id is None:
            raise ValueError("add_resident needs the account's id")
        status = user.account_status
        try:
            async with self._write_tx() as tx:
                if await tx.rows(TAKEN_EMAILS.on(d), d.list_param([email])):
                    raise DuplicateEmail(user.email, 0)
                created = d.ts_param(proof.created_at)
                await tx.execute(
                    ADD_RESIDENT.on(d),
                    *(user.id, user.role, email, user.password_hash, user.name, user.home_lat, user.home_lon),
                    *(user.home_sector, status == "validated", status, created),
                    *(user.address, user.phone, user.on_behalf_of),
                )
                await tx.execute(ADD_PROOF.on(d), user.id, proof.file_name, proof.media_type, proof.size, created)
                # joining: the resident makes their own account
                await append_audit(tx, AuditEntry("account.create", "account", user.id, user.id, proof.created_at))
        except self.unique_violation:
            # another process took this e-mail meanwhile
            if await self._select(TAKEN_EMAILS, d.list_param([email])):
                raise DuplicateEmail(user.email, 0) from None
            raise
        return user.id

    async def residents_by_status(self, status: str, limit: int) -> list[User]:
        d = self.dialect
        return [user_from_row(r, d.ts_column) for r in await self._select(RESIDENTS_BY_STATUS, status, max(0, limit))]

    async def latest_proof(self, user_id: int) -> Proof | None:
        rows = await self._select(LATEST_PROOF, user_id)
        return proof_from_row(rows[0], self.dialect) if rows else None

    async def record_proof_view(self, viewer: int, account: int, proof_id: int | None, at: datetime) -> None:
        async with self._write_tx() as tx:
            await tx.execute(RECORD_VIEW.on(tx.dialect), viewer, account, proof_id, tx.dialect.ts_param(at))
            await append_audit(tx, AuditEntry("proof.view", "account", account, viewer, at))

    async def proof_views(self, account: int) -> list[tuple[int, datetime]]:
        return [(r[0], self.dialect.ts_column(r[1])) for r in await self._select(PROOF_VIEWS, account)]

    async def set_account_status(
        self, user_id: int, status: str, reason: str | None, now: datetime, audit: Sequence[AuditEntry] = ()
    ) -> tuple[User, Event] | None:
        try:
            return await self._set_status(user_id, status, reason, now, audit)
        except _NoSuchAccount:
            return None

    async def _set_status(
        self, user_id: int, status: str, reason: str | None, now: datetime, audit: Sequence[AuditEntry]
    ) -> tuple[User, Event]:
        d = self.dialect
        async with self._write_tx() as tx:
            seq = await tx.bump(1)  # the counter row first, as every event write does
            rows = await tx.rows(USER_BY_ID.on(d), user_id)
            if not rows:
                raise _NoSuchAccount  # rolls the bump back: seqs stay gapless
            before = user_from_row(rows[0], d.ts_column)
            await tx.execute(SET_STATUS.on(d), status, status == "validated", reason, user_id)
            if before.status == "pending" and status in ("validated", "rejected"):
                await tx.execute(DECIDE_PROOFS.on(d), d.ts_param(now), user_id)
                await tx.execute(DECIDED.on(d), d.ts_param(now), user_id)
            data = {"user": user_id, "status": status}
            (event,) = await tx.append([Draft(seq, "account.changed", data, to_utc(now), (CONTROL,))])
            await append_audit(tx, *audit)
        return evolve(before, status=status, reason=reason), event

    async def add_flag(self, alert_id: int, user_id: int, reason: str, now: datetime) -> Flag:
        d = self.dialect
        try:
            async with self._write_tx() as tx:
                if await tx.rows(FLAG_OF.on(d), alert_id, user_id):
                    raise DuplicateFlag(f"alert {alert_id} is flagged by {user_id} already")
                fid = await tx.insert_id(ADD_FLAG.on(d), alert_id, user_id, reason, d.ts_param(now))
        except self.unique_violation:
            raise DuplicateFlag(f"alert {alert_id} is flagged by {user_id} already") from None
        return Flag(fid, alert_id, user_id, reason, to_utc(now))

    async def open_flags(self, limit: int) -> list[Flag]:
        return [flag_from_row(r, self.dialect) for r in await self._select(OPEN_FLAGS, max(0, limit))]

    async def moderate_alert(
        self,
        alert_id: int,
        hidden: bool,
        reason: str,
        extra_channels: Sequence[str],
        now: datetime,
        audit: Sequence[AuditEntry] = (),
    ) -> tuple[Alert, list[Event]] | None:
        async with self._write_tx() as tx:
            d = tx.dialect
            await tx.bump(0)  # lock order: the counter row first, as every event write does
            rows = await tx.rows(ALERT_LOCKED.on(d), alert_id)
            if not rows:
                return None
            alert = alert_from_row(rows[0], d.ts_column)
            await tx.execute(RESOLVE_FLAGS.on(d), d.ts_param(now), alert_id)
            await append_audit(tx, *audit)  # the decision stands (and closes the flags) even if nothing changes
            if alert.hidden == hidden:
                return alert, []
            alert = evolve(alert, hidden=hidden, hide_reason=reason if hidden else None, updated_at=to_utc(now))
            await tx.execute(SET_HIDDEN.on(d), hidden, alert.hide_reason, d.ts_param(now), alert_id)
            specs: list[tuple[str, tuple[str, ...]]] = [("alert.updated", (OPS,))]
            if hidden:
                channels = await residents_who_had(tx, alert.seq, extra_channels)
                if channels:
                    specs.append(("alert.removed", channels))
            events = await append_about_alert(tx, alert, now, specs)
        return alert, events

    async def hidden_among(self, alert_ids: Sequence[int]) -> set[int]:
        if not alert_ids:
            return set()
        rows = await self._select(HIDDEN_AMONG, self.dialect.list_param([int(i) for i in alert_ids]))
        return {int(r[0]) for r in rows}
