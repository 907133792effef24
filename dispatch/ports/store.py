"""The store port: durable state and the global event log. Two adapters,
dispatch.adapters.store_sqlite.SqliteStore and
dispatch.adapters.store_postgres.PostgresStore, chosen by the URL scheme
(sqlite:, postgresql:) in dispatch.adapters.open_store, run one contract
suite (tests/test_store_contract.py). Alerts change only through triage():
dispatch.core.incident_decisions decides, the store persists."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from dispatch.core.audit import AuditEntry, AuditQuery
from dispatch.core.changes import Change, Saved, TriageState
from dispatch.core.model import (
    Alert,
    AlertQuery,
    Broadcast,
    Created,
    Event,
    Flag,
    Incident,
    IncidentQuery,
    NewAlert,
    NewBroadcast,
    NewProof,
    NewUser,
    Proof,
    Session,
    Unit,
    User,
)
from dispatch.core.notify_settings import NotifySettings
from dispatch.core.outbox import NewOutbox, OutboxItem
from dispatch.core.retention import Cutoffs

# the port's errors, re-exported (the "as" form tells mypy they are meant to be)
from dispatch.ports.store_errors import DuplicateEmail as DuplicateEmail
from dispatch.ports.store_errors import DuplicateFlag as DuplicateFlag
from dispatch.ports.store_errors import DuplicateUnit as DuplicateUnit
from dispatch.ports.store_errors import NotFound as NotFound
from dispatch.ports.store_errors import StoreUnavailable as StoreUnavailable


@dataclass(frozen=True)
class Erasure:
    """What an erasure leaves to do after its commit: delete the proof files
    (`proof_files`, names in proofs.dir) and publish `event` (session.ended)."""

    proof_files: list[str]
    event: Event


@dataclass(frozen=True)
class PurgeBatch:
    """One purge transaction: rows deleted or coarsened per kind
    (core.retention.PURGE_KINDS), the proof files to delete after the
    commit, and whether a kind had more than the batch took."""

    counts: dict[str, int]
    proof_files: list[str]
    more: bool


class Store(Protocol):
    """Durable state and the global event log.

    Invariants the live path relies on: event `seq` values are gapless and
    commit order equals seq order, so once seq N is visible every seq < N is
    visible too. Both adapters get it by bumping a single counter row inside
    the writing transaction (PostgreSQL holds that row lock until commit;
    SQLite has one writer). Each event is published on bus channels (the
    `channels` of NewAlert/NewBroadcast, or of the EventSpecs a triage Change
    renders); its `links` name, per channel, the seq of that channel's
    previous event, written in the same transaction, so a consumer of one
    channel sees its gaps."""

    async def connect(self) -> None: ...
    async def close(self) -> None: ...
    async def migrate(self) -> list[int]:
        """Apply pending migrations; return the versions applied (idempotent)."""
        ...

    async def ping(self) -> None: ...

    # accounts
    async def add_users(self, users: Sequence[NewUser]) -> list[int]:
        """All or nothing, in one transaction, each audited (account.create,
        by the system). Raises DuplicateEmail."""
        ...

    async def user_by_email(self, email: str) -> User | None:
        """The account that may log in with this e-mail (not a disabled one)."""
        ...

    async def user_by_id(self, user_id: int) -> User | None: ...
    async def user_by_phone(self, phone: str) -> User | None:
        """The validated, enabled account with this E.164 phone (the oldest
        if several), for the SMS intake."""
        ...

    async def add_session(self, token_hash: str, user_id: int, expires_at: datetime, wall: bool = False) -> None: ...
    async def session_user(self, token_hash: str, now: datetime) -> User | None: ...
    async def session(self, token_hash: str, now: datetime) -> Session | None:
        """The unexpired session with this token hash, with its account."""
        ...

    async def sessions(self, token_hashes: Sequence[str], now: datetime) -> dict[str, Session]:
        """session() for many token hashes in one read, by hash; the unknown
        and expired are absent (a reconnect storm's lookups, usecases.sessions)."""
        ...

    async def touch_session(self, token_hash: str, at: datetime) -> None:
        """Record that the session was used at `at`."""
        ...

    async def set_password(self, email: str, password_hash: str) -> int | None:
        """The account's id, or None when no account has this e-mail.
        Audited (account.password, by the system) in the same transaction."""
        ...

    async def disable_user(self, email: str, now: datetime) -> int | None:
        """From now on the account cannot log in (user_by_email and session
        no longer find it); its row stays. Its id, or None. Audited
        (account.disable, by the system) in the same transaction."""
        ...

    async def list_accounts(self, role: str | None = None) -> list[tuple[int, str, str, str]]:
        """(id, role, email, status) of every account (of that role), by id;
        status is `disabled`, or the account's standing. Never a hash."""
        ...

    async def end_sessions(self, user_id: int, token_hash: str | None, code: int, now: datetime) -> Event:
        """Delete the account's sessions (only that one when `token_hash` is
        given) and append a `session.ended` event {user, token, code} on the
        control channel (core.routing.CONTROL), in one transaction: every
        worker follows that channel, forgets the sessions and closes the
        account's sockets with `code`."""
        ...

    async def resident_homes(self, sectors: Sequence[str] | None = None) -> list[tuple[int, float, float, str | None]]:
        """(user_id, lat, lon, home_sector) of validated residents, optionally
        only those whose home sector is in `sectors`."""
        ...

    async def set_home_sectors(self, assign: Callable[[float, float], str | None]) -> int:
        """Recompute every resident's home_sector (after the city changed)."""
        ...

    # alerts and broadcasts, each written with its event in one transaction
    async def get_alert(self, alert_id: int) -> Alert | None: ...
    async def list_alerts(self, query: AlertQuery) -> list[Alert]:
        """Newest first."""
        ...

    async def create_broadcast(self, new: NewBroadcast) -> tuple[Broadcast, Event]: ...
    async def get_broadcast(self, broadcast_id: int) -> Broadcast | None: ...
    async def list_broadcasts(self, since: datetime, limit: int) -> list[Broadcast]:
        """Sent at or after `since`, newest first, at most `limit`."""
        ...

    async def create_alert_grouped(self, new: NewAlert) -> Created:
        """Insert the alert and its `alert.created` event, and group it into
        an incident in the same transaction: its events are alert.created,
        then the incident events grouping caused. With `new.nearby`, queue
        its out-of-band messages in that transaction too (the residents
        nearby who opted in: core.audience.nearby_fanout). If (author,
        client_id) exists already, return (that alert, []) and write nothing."""
        ...

    # triage: incidents and units
    async def triage(
        self,
        incident_ids: Sequence[int],
        alert_ids: Sequence[int],
        unit_ids: Sequence[int],
        decide: Callable[[TriageState], Change],
        now: datetime,
        audit: Sequence[AuditEntry] = (),
    ) -> tuple[Saved, list[Event]]:
        """In one write transaction: lock those incidents (with their alerts),
        alerts and units, run the pure `decide` (it may raise to abort), save
        its Change, append the events it renders and the `audit` entries."""
        ...

    async def get_incident(self, incident_id: int) -> Incident | None: ...
    async def incident_history(self, incident_ids: Sequence[int]) -> dict[int, tuple[dict[str, Any], ...]]:
        """Each incident's history, oldest entry first (an Incident read from
        the store carries none: save() appends what a change adds)."""
        ...

    async def incident_alerts(self, incident: Incident) -> list[Alert]: ...
    async def list_incidents(self, query: IncidentQuery) -> list[Incident]:
        """By priority, highest first, then oldest first."""
        ...

    async def list_units(self) -> list[Unit]: ...
    async def add_unit(self, name: str, now: datetime) -> Unit: ...
    async def overdue_incidents(self, now: datetime, max_level: int) -> list[tuple[int, str, datetime, int]]: ...

    # the event log
    async def events_after(self, seq: int, limit: int = 1000, channel: str | None = None) -> list[Event]:
        """Events with seq > `seq`, ascending, at most `limit`; only those
        published on `channel` when given."""
        ...

    async def channel_heads(self, channels: Sequence[str]) -> dict[str, int]:
        """The seq of each channel's latest event (0 when none)."""
        ...

    async def channel_head(self, channel: str) -> int: ...

    # joining and moderation
    async def add_resident(self, user: NewUser, proof: NewProof) -> int:
        """A joining resident's account (status, address, phone, on_behalf_of
        and `id` as given) with its proof, in one transaction. Raises
        DuplicateEmail."""
        ...

    async def residents_by_status(self, status: str, limit: int) -> list[User]:
        """Residents' accounts (resident, referent) with that status, oldest first."""
        ...

    async def latest_proof(self, user_id: int) -> Proof | None: ...
    async def record_proof_view(self, viewer: int, account: int, proof_id: int | None, at: datetime) -> None:
        """Append to the proof views (append-only: who, when, which account),
        with its audit entry (proof.view of the account) in the same transaction."""
        ...

    async def proof_views(self, account: int) -> list[tuple[int, datetime]]:
        """(viewer, at) of every view of the account's proofs, oldest first."""
        ...

    async def set_account_status(
        self, user_id: int, status: str, reason: str | None, now: datetime, audit: Sequence[AuditEntry] = ()
    ) -> tuple[User, Event] | None:
        """Set the status (and its reason) and append `account.changed`
        {user, status} on the control channel, so that every worker forgets
        the account's cached sessions at once; a decision on a pending
        account (to validated or rejected) also marks its proofs decided."""
        ...

    async def add_flag(self, alert_id: int, user_id: int, reason: str, now: datetime) -> Flag:
        """Raises DuplicateFlag for a second flag of the alert by the user."""
        ...

    async def open_flags(self, limit: int) -> list[Flag]:
        """Flags no moderator has acted on yet, oldest first."""
        ...

    async def moderate_alert(
        self,
        alert_id: int,
        hidden: bool,
        reason: str,
        extra_channels: Sequence[str],
        now: datetime,
        audit: Sequence[AuditEntry] = (),
    ) -> tuple[Alert, list[Event]] | None:
        """Hide or restore an alert and close its open flags, in one
        transaction (None: no such alert). When `hidden` changes, appends
        alert.updated on the ops channel, and, when hiding, alert.removed on
        the channels of the alert's alert.created (those it was published
        on, as stored with that event) and `extra_channels`."""
        ...

    async def hidden_among(self, alert_ids: Sequence[int]) -> set[int]:
        """Those of the alerts that are hidden now."""
        ...

    # the audit (append-only; adapters.audit_sql.append_audit writes it in
    # the transaction of the write it records)
    async def record_audit(self, entries: Sequence[AuditEntry]) -> None:
        """Write entries alone, in one transaction: a read that records a view."""
        ...

    async def audit(self, query: AuditQuery) -> list[AuditEntry]:
        """Entries matching `query`, newest first, at most query.limit."""
        ...

    async def head_seq(self) -> int:
        """The highest committed seq (0 when empty)."""
        ...

    # out-of-band delivery (issue 19; dispatch.adapters.store_outbox)
    async def sms_recipients(self, audience: Sequence[int], level: str) -> int:
        """How many of `audience` a broadcast of `level` would reach by SMS."""
        ...

    async def notify_settings(self, user_id: int) -> NotifySettings | None:
        """The account's saved settings, or None (the defaults apply)."""
        ...

    async def put_notify_settings(
        self, user_id: int, settings: NotifySettings, phone: str | None, set_phone: bool, now: datetime
    ) -> None:
        """Save the settings, and the account's phone when `set_phone`."""
        ...

    async def add_push_subscription(self, user_id: int, endpoint: str, p256dh: str, auth: str, now: datetime) -> int:
        """Keep a browser's subscription (an endpoint registered again moves to this account)."""
        ...

    async def push_subscriptions(self, user_id: int) -> list[tuple[str, str, str]]:
        """(endpoint, p256dh, auth) of each of the account's subscriptions."""
        ...

    async def drop_push_subscription(self, endpoint: str) -> None: ...
    async def enqueue(self, items: Sequence[NewOutbox], now: datetime) -> None:
        """Queue outbox rows in one transaction; a row whose (message,
        recipient, channel) is queued already is left as it is."""
        ...

    async def claim_outbox(
        self, channel: str, limit: int, owner: str, now: datetime, lease_until: datetime
    ) -> list[OutboxItem]:
        """Lease up to `limit` due rows of the channel to `owner` until
        `lease_until`; no other claim returns them before the lease ends."""
        ...

    async def finish_outbox(
        self, owner: str, results: Sequence[tuple[int, str, datetime, datetime | None, str | None]]
    ) -> None:
        """(id, status, next_at, sent_at, error) of rows `owner` holds: the
        lease ends; `queued` again with next_at is a retry."""
        ...

    async def sms_status(self, ext_id: str, status: str) -> tuple[str, int] | None:
        """A gateway's report: the SMS `delivered` or `failed`; (kind, ref_id) of its message."""
        ...

    async def outbox_counts(self, kind: str, ref_id: int) -> dict[str, dict[str, int]]:
        """channel -> status -> how many rows of the message."""
        ...

    async def outbox_depth(self) -> dict[str, int]:
        """channel -> rows queued (not yet sent, failed or expired): GET /metrics."""
        ...

    async def append_ops_event(self, event_type: str, data: dict[str, Any], now: datetime) -> Event:
        """Append an event on the ops channel alone (broadcast.receipts)."""
        ...

    async def put_app_receipt(self, broadcast_id: int, worker: str, delivered: int) -> None: ...
    async def app_delivered(self, broadcast_id: int) -> int:
        """Sum over the workers of the resident sockets the broadcast was written to."""
        ...

    # export, erasure and retention (issue 20)
    async def export_account(self, user_id: int, actor: int, now: datetime) -> dict[str, Any] | None:
        """Everything the store holds about the account (never a password or
        token hash), as JSON-ready data, recorded in the audit ("export" by
        `actor`) in the same transaction; None when no such account."""
        ...

    async def erase_account(self, user_id: int, actor: int, code: int, now: datetime) -> Erasure | None:
        """Erase a resident's account in one transaction: the account, its
        proofs, flags and sessions go; its alerts stay only as anonymous
        statistics; `session.ended` with `code` closes its sockets. None:
        no such resident account."""
        ...

    async def set_text_hidden(
        self,
        alert_id: int,
        hidden: bool,
        extra_channels: Sequence[str],
        now: datetime,
        audit: Sequence[AuditEntry] = (),
    ) -> tuple[Alert, list[Event]] | None:
        """Hide (or show again) an alert's text from residents, close its open
        flags, record `audit`, and append alert.updated on the ops channel
        and, unless the alert is hidden, alert.text on the resident channels
        its alert.created went out on and `extra_channels` (its author's);
        its stored events say so too, for replays. None: no such alert."""
        ...

    async def purge_batch(self, cutoffs: Cutoffs, limit: int) -> PurgeBatch | None:
        """Delete or coarsen at most `limit` expired rows of each kind, in
        one transaction. None: another worker is purging right now."""
        ...

    async def record_purge(self, counts: dict[str, int], as_of: datetime, now: datetime) -> int:
        """Append a purge run (its counts); its id."""
        ...
