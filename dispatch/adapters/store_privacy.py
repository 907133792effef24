"""The Store methods of export, erasure and purge (issue 20, migration 8),
written once for both stores over a Tx, as PrivacyMethods, which
store_base.SqlStore inherits. Proof files are the caller's to delete, after
the commit (the store returns their names)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, ClassVar

from dispatch.adapters import privacy_sql as q
from dispatch.adapters.audit_sql import AUDIT_COLUMNS, append_audit, purge_audit
from dispatch.adapters.dialect import Dialect
from dispatch.adapters.store_common import ALERT_COLUMNS, Draft, Row, alert_from_row, dumps, loads, to_utc
from dispatch.adapters.store_moderation import ALERT_LOCKED, RESOLVE_FLAGS, append_about_alert, residents_who_had
from dispatch.adapters.tx import Tx
from dispatch.core.audit import AuditEntry
from dispatch.core.model import Alert, Event, evolve, iso
from dispatch.core.retention import PURGE_KINDS, Cutoffs
from dispatch.core.routing import CONTROL, OPS
from dispatch.core.views import alert_staff
from dispatch.ports.store import Erasure, PurgeBatch

_ALERTS_OF = f"SELECT {ALERT_COLUMNS} FROM alerts WHERE author = ? ORDER BY id"
# the entries about the account, and those of what it did itself
_AUDIT_OF = (
    f"SELECT {AUDIT_COLUMNS} FROM audit WHERE (record_type = 'account' AND record_id = ?) OR actor = ? ORDER BY id"
)


def _iso(d: Dialect, value: Any) -> str | None:
    return None if value is None else iso(d.ts_column(value))


class PrivacyMethods:
    """Mixed into store_base.SqlStore, which supplies the transactions."""

    dialect: ClassVar[Dialect]

    def _read_tx(self) -> AbstractAsyncContextManager[Tx]:
        raise NotImplementedError

    def _write_tx(self) -> AbstractAsyncContextManager[Tx]:
        raise NotImplementedError

    async def export_account(self, user_id: int, actor: int, now: datetime) -> dict[str, Any] | None:
        """A read that writes its audit entry ("export"), in one transaction."""
        async with self._write_tx() as tx:
            d = tx.dialect
            found = await tx.rows(q.EXPORT_ACCOUNT.on(d), user_id)
            if not found:
                return None
            await append_audit(tx, AuditEntry("export", "account", user_id, actor, now))
            alerts = await tx.rows(d.render(_ALERTS_OF), user_id)
            out = {
                "account": _account(d, found[0]),
                "proofs": [_proof(d, r) for r in await tx.rows(q.EXPORT_PROOFS.on(d), user_id)],
                "proof_views": [
                    {"viewer": r["viewer"], "proof": r["proof_id"], "at": _iso(d, r["at"])}
                    for r in await tx.rows(q.EXPORT_PROOF_VIEWS.on(d), user_id)
                ],
                "sessions": [_session(d, r) for r in await tx.rows(q.EXPORT_SESSIONS.on(d), user_id)],
                "alerts": [alert_staff(alert_from_row(r, d.ts_column)) for r in alerts],
                "flags": [_flag(d, r) for r in await tx.rows(q.EXPORT_FLAGS.on(d), user_id)],
                **await _export_notify(tx, user_id),
                "audit": [_audit(d, r) for r in await tx.rows(d.render(_AUDIT_OF), user_id, user_id)],
            }
        return out

    async def erase_account(self, user_id: int, actor: int, code: int, now: datetime) -> Erasure | None:
        """The resident's account, proofs, flags and sessions go; their
        alerts (and the incidents and events naming them) become anonymous;
        `session.ended` {user, token: null, code} on the control channel
        closes their sockets on every worker. In one transaction."""
        async with self._write_tx() as tx:
            d = tx.dialect
            seq = await tx.bump(1)  # the counter row first, as every event write does
            if not await tx.rows(q.RESIDENT_EXISTS.on(d), user_id):
                return None  # rolls the bump back: seqs stay gapless
            files = await _erase(tx, user_id, now)
            await append_audit(tx, AuditEntry("erasure", "account", user_id, actor, now))
            data = {"user": user_id, "token": None, "code": code}
            (event,) = await tx.append([Draft(seq, "session.ended", data, to_utc(now), (CONTROL,))])
        return Erasure(files, event)

    async def set_text_hidden(
        self,
        alert_id: int,
        hidden: bool,
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
            await tx.execute(RESOLVE_FLAGS.on(d), d.ts_param(now), alert_id)
            await append_audit(tx, *audit)
            alert = evolve(alert_from_row(rows[0], d.ts_column), text_hidden=hidden, updated_at=to_utc(now))
            await tx.execute(q.SET_TEXT_HIDDEN.on(d), hidden, d.ts_param(now), alert_id)
            await q.mark_text_hidden(tx, alert_id, hidden)
            specs: list[tuple[str, tuple[str, ...]]] = [("alert.updated", (OPS,))]
            # residents who have it on screen follow at once (a hidden alert
            # is on nobody's screen)
            channels = () if alert.hidden else await residents_who_had(tx, alert.seq, extra_channels)
            if channels:
                specs.append(("alert.text", channels))
            events = await append_about_alert(tx, alert, now, specs)
        return alert, events

    async def purge_batch(self, cutoffs: Cutoffs, limit: int) -> PurgeBatch | None:
        """At most `limit` of each kind that expired, in one transaction;
        None when another worker is purging (PostgreSQL advisory lock)."""
        async with self._write_tx() as tx:
            d = tx.dialect
            if (
                d.name == "postgres"
                and not (await tx.rows("SELECT pg_try_advisory_xact_lock($1)", q.PURGE_LOCK_KEY))[0][0]
            ):
                return None
            counts = dict.fromkeys(PURGE_KINDS, 0)
            alerts = await tx.rows(q.EXPIRED_ALERTS.on(d), d.ts_param(cutoffs.alert_detail), limit)
            await q.anonymise_alerts(tx, [(r["id"], r["cell"]) for r in alerts], cutoffs.now)
            incidents = await tx.rows(q.EXPIRED_INCIDENTS.on(d), d.ts_param(cutoffs.alert_detail), limit)
            rows = [(r["id"], r["cell"], r["authors"]) for r in incidents]
            await q.anonymise_incidents(tx, rows, None, cutoffs.now)
            proofs = await tx.rows(q.EXPIRED_PROOFS.on(d), d.ts_param(cutoffs.proof), limit)
            await tx.execute_many(q.DELETE_PROOF.on(d), [(r["id"],) for r in proofs])
            files = [r["file_name"] for r in proofs]
            accounts = await tx.rows(q.EXPIRED_ACCOUNTS.on(d), d.ts_param(cutoffs.account), limit)
            for r in accounts:
                files += await _erase(tx, r["id"], cutoffs.now)
            sessions = await tx.rows(q.DELETE_EXPIRED_SESSIONS.on(d), d.ts_param(cutoffs.session))
            counts.update(
                alerts_coarsened=len(alerts),
                incidents_coarsened=len(incidents),
                proofs=len(proofs),
                accounts=len(accounts),
                sessions=len(sessions),
            )
            counts["audit"] = await self._purge_audit(tx, cutoffs)
            messages = await tx.rows(q.BLANK_OLD_MESSAGES.on(d), d.ts_param(cutoffs.outbox), limit)
            counts["messages_coarsened"] = len(messages)
        more = max(len(alerts), len(incidents), len(proofs), len(accounts), len(messages)) >= limit
        return PurgeBatch(counts, files, more)

    async def _purge_audit(self, tx: Tx, cutoffs: Cutoffs) -> int:
        """Audit entries older than retention.audit_days, through the one
        path past the audit's append-only guard (audit_sql.purge_audit)."""
        return await purge_audit(tx, cutoffs.audit)

    async def record_purge(self, counts: dict[str, int], as_of: datetime, now: datetime) -> int:
        """The run and its audit entry ("purge", by the system), together."""
        async with self._write_tx() as tx:
            d = tx.dialect
            run = await tx.insert_id(q.ADD_PURGE_RUN.on(d), d.ts_param(now), d.ts_param(as_of), dumps(counts))
            await append_audit(tx, AuditEntry("purge", "store", run, None, now))
        return run


async def _erase(tx: Tx, user_id: int, now: datetime) -> list[str]:
    """Inside a write transaction: everything of one account goes, its
    alerts and incidents stay anonymous. The proof files' names."""
    d = tx.dialect
    alerts = await tx.rows(q.ALERTS_BY.on(d), user_id)
    await q.anonymise_alerts(tx, [(r["id"], r["cell"]) for r in alerts], now)
    incidents = await tx.rows(q.INCIDENTS_WITH_AUTHOR.on(d), dumps([user_id]))
    await q.anonymise_incidents(tx, [(r["id"], r["cell"], r["authors"]) for r in incidents], [user_id], None)
    files = [r["file_name"] for r in await tx.rows(q.PROOF_FILES_OF.on(d), user_id)]
    erase = (q.DELETE_FLAGS_OF, q.DELETE_PROOFS_OF, q.DELETE_SESSIONS_OF, q.DELETE_NOTIFY_OF, q.DELETE_PUSH_OF)
    for statement in (*erase, q.DELETE_QUEUED_MESSAGES_OF, q.BLANK_MESSAGES_OF, q.DELETE_USER):
        await tx.execute(statement.on(d), user_id)
    return files


async def _export_notify(tx: Tx, user_id: int) -> dict[str, Any]:
    """Out-of-band delivery (issue 19): the settings, the browsers
    subscribed to push, and every message queued or sent to the account."""
    d = tx.dialect
    settings = await tx.rows(q.EXPORT_NOTIFY.on(d), user_id)
    notify = None
    if settings:
        r = settings[0]
        notify = {k: loads(r[k]) for k in ("channels", "levels", "categories")} | {
            "updated_at": _iso(d, r["updated_at"])
        }
    push = [
        {"endpoint": r["endpoint"], "created_at": _iso(d, r["created_at"])}
        for r in await tx.rows(q.EXPORT_PUSH.on(d), user_id)
    ]
    messages = [
        {k: r[k] for k in ("kind", "ref_id", "channel", "dest", "subject", "body", "status")}
        | {"created_at": _iso(d, r["created_at"]), "sent_at": _iso(d, r["sent_at"])}
        for r in await tx.rows(q.EXPORT_MESSAGES.on(d), user_id)
    ]
    return {"notifications": notify, "push_subscriptions": push, "messages": messages}


def _account(d: Dialect, r: Row) -> dict[str, Any]:
    home = None
    if r["home_lat"] is not None and r["home_lon"] is not None:
        home = {"lat": r["home_lat"], "lon": r["home_lon"], "sector": r["home_sector"]}
    return {
        "id": r["id"],
        "role": r["role"],
        "email": r["email"],
        "name": r["name"],
        "address": r["address"],
        "phone": r["phone"],
        "on_behalf_of": r["on_behalf_of"],
        "home": home,
        "status": r["status"],
        "reason": r["status_reason"],
        "created_at": _iso(d, r["created_at"]),
        "decided_at": _iso(d, r["decided_at"]),
        "disabled_at": _iso(d, r["disabled_at"]),
    }


def _proof(d: Dialect, r: Row) -> dict[str, Any]:
    return {
        "id": r["id"],
        "media_type": r["media_type"],
        "size": r["size"],
        "created_at": _iso(d, r["created_at"]),
        "decided_at": _iso(d, r["decided_at"]),
    }


def _session(d: Dialect, r: Row) -> dict[str, Any]:
    return {
        "created_at": _iso(d, r["created_at"]),
        "expires_at": _iso(d, r["expires_at"]),
        "last_used_at": _iso(d, r["last_used_at"]),
        "wall": bool(r["wall"]),
    }


def _flag(d: Dialect, r: Row) -> dict[str, Any]:
    return {
        "id": r["id"],
        "alert": r["alert_id"],
        "reason": r["reason"],
        "created_at": _iso(d, r["created_at"]),
        "resolved_at": _iso(d, r["resolved_at"]),
    }


def _audit(d: Dialect, r: Row) -> dict[str, Any]:
    return {
        "id": r["id"],
        "at": _iso(d, r["at"]),
        "actor": r["actor"],
        "action": r["action"],
        "record_type": r["record_type"],
        "record_id": r["record_id"],
    }
