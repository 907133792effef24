"""The audit's vocabulary: what an entry says (who, when, which action on
which record) and what may be asked of it. An entry never holds personal
data: the actor and the record are ids, the action and the record's type are
names from the closed lists below, so nothing a resident wrote or is can end
up in it (the table has no column for it)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dispatch.core.model import iso, utcnow

# Dotted names: "<record>.<what>", or a bare name for the data-protection
# operations that span records. A new audited action is added here first.
ACTIONS = frozenset(
    {
        # staff views of a resident's identity, address, phone or proof
        "identity.view",
        "proof.view",
        # triage
        "alert.patch",
        "incident.patch",
        "incident.merge",
        "incident.split",
        "incident.escalate",
        "unit.patch",
        # broadcasts
        "broadcast.send",
        # moderation decisions: "moderation." + core.moderation's action
        "moderation.validate",
        "moderation.reject",
        "moderation.suspend",
        "moderation.reinstate",
        "moderation.hide",
        "moderation.restore",
        "moderation.hide_text",
        # accounts
        "account.create",
        "account.password",
        "account.disable",
        "account.lockout",
        # data protection (issue 20 §2-3)
        "export",
        "erasure",
        "purge",
    }
)
RECORD_TYPES = frozenset({"account", "alert", "incident", "unit", "broadcast", "audit", "store"})


@dataclass(frozen=True)
class AuditEntry:
    """One row of the audit. `actor` is the account that acted, None for
    the system (the CLI, the purge, the login guard). `id` is the store's,
    None before it is written."""

    action: str
    record_type: str
    record_id: int | None
    actor: int | None
    at: datetime
    id: int | None = None

    def __post_init__(self) -> None:
        # a typo would be an entry nobody finds when filtering
        if self.action not in ACTIONS:
            raise ValueError(f"unknown audit action {self.action!r}")
        if self.record_type not in RECORD_TYPES:
            raise ValueError(f"unknown audit record type {self.record_type!r}")


def entry(action: str, record_type: str, record_id: int | None, actor: int | None) -> AuditEntry:
    """An entry for what is being done now."""
    return AuditEntry(action, record_type, record_id, actor, utcnow())


def identity_views(viewer: int, accounts: Iterable[int | None]) -> list[AuditEntry]:
    """A staff member saw these accounts' identity (each once, in order;
    None, an anonymous alert's author, shows nobody's)."""
    return [entry("identity.view", "account", a, viewer) for a in dict.fromkeys(accounts) if a is not None]


@dataclass(frozen=True)
class AuditQuery:
    """Entries at or after `since`, of `actor`, of `action`: newest first."""

    since: datetime | None = None
    actor: int | None = None
    action: str | None = None
    limit: int = 200


# who reads the audit: the town's administrator, for its DPO
AUDIT_ROLES = frozenset({"admin"})
CSV_COLUMNS = ("id", "at", "actor", "action", "record_type", "record_id")


def audit_view(e: AuditEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": iso(e.at),
        "actor": e.actor,
        "action": e.action,
        "record_type": e.record_type,
        "record_id": e.record_id,
    }


def to_csv(entries: Iterable[AuditEntry]) -> str:
    """The entries as CSV for the DPO: a header, then one line each. Every
    value is an id, a time or a name from the closed lists: nothing to
    quote, nothing a spreadsheet would run as a formula."""
    lines = [",".join(CSV_COLUMNS)]
    for e in entries:
        v = audit_view(e)
        lines.append(",".join("" if v[c] is None else str(v[c]) for c in CSV_COLUMNS))
    return "\r\n".join(lines) + "\r\n"
