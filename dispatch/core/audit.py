"""The audit's vocabulary: what an entry says (who, when, which action on
which record) and what may be asked of it. An entry never holds personal
data: the actor and the record are ids, the action and the record's type are
names from the closed lists below, so nothing a resident wrote or is can end
up in it (the table has no column for it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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
        # moderation decisions
        "moderation.validate",
        "moderation.reject",
        "moderation.suspend",
        "moderation.reinstate",
        "moderation.hide",
        "moderation.restore",
        "moderation.dismiss",
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


@dataclass(frozen=True)
class AuditQuery:
    """Entries at or after `since`, of `actor`, of `action`: newest first."""

    since: datetime | None = None
    actor: int | None = None
    action: str | None = None
    limit: int = 200
