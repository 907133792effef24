"""Moderation decisions, pure: the bodies of the moderation routes, which
account status may follow which, and who may act on whose account.

Statuses (core.model.ACCOUNT_STATUSES): joining makes `pending`; a moderator
validates or rejects a pending account; a moderator or an admin suspends a
validated one and reinstates a suspended one. Nothing else moves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dispatch.core.model import RESIDENT_ROLES, User
from dispatch.core.validation import InputError, _reject_unknown, _require, _string

MAX_REASON = 500

# (action, from) -> to
TRANSITIONS = {
    ("validate", "pending"): "validated",
    ("reject", "pending"): "rejected",
    ("suspend", "validated"): "suspended",
    ("reinstate", "suspended"): "validated",
}


@dataclass(frozen=True)
class Decision:
    action: str  # validate | reject | suspend | reinstate | hide | hide_text | restore
    reason: str | None


def _reason(data: dict[str, Any], required: bool) -> str | None:
    if data.get("reason") is None:
        if required:
            raise InputError(422, "missing_field", "reason is required", "reason")
        return None
    return _string(data["reason"], "reason", MAX_REASON, 1).strip()


def _choice(data: dict[str, Any], key: str, choices: tuple[str, ...]) -> str:
    value = _string(_require(data, key), key, 16)
    if value not in choices:
        raise InputError(422, f"unknown_{key}", f"{key} must be {' or '.join(choices)}", key)
    return value


def resident_decision(data: dict[str, Any]) -> Decision:
    """POST /api/moderation/residents/{id}: a reason is required to reject."""
    _reject_unknown(data, frozenset({"decision", "reason"}))
    decision = _choice(data, "decision", ("validate", "reject"))
    return Decision(decision, _reason(data, required=decision == "reject"))


def account_action(data: dict[str, Any]) -> Decision:
    _reject_unknown(data, frozenset({"action", "reason"}))
    return Decision(_choice(data, "action", ("suspend", "reinstate")), _reason(data, required=True))


def alert_action(data: dict[str, Any]) -> Decision:
    _reject_unknown(data, frozenset({"action", "reason"}))
    return Decision(_choice(data, "action", ("hide", "hide_text", "restore")), _reason(data, required=True))


def flag_reason(data: dict[str, Any]) -> str:
    _reject_unknown(data, frozenset({"reason"}))
    return _string(_require(data, "reason"), "reason", MAX_REASON, 1).strip()


def next_status(action: str, current: str) -> str:
    """The status `action` leads to from `current`, or 409."""
    to = TRANSITIONS.get((action, current))
    if to is None:
        raise InputError(409, "forbidden_transition", f"cannot {action} an account that is {current}")
    return to


def may_act_on(actor: User, target: User) -> None:
    """Moderators act on residents' accounts; admins on any account but their own."""
    if actor.id == target.id:
        raise InputError(403, "forbidden", "you cannot change your own account's status")
    if actor.role != "admin" and target.role not in RESIDENT_ROLES:
        raise InputError(403, "forbidden", f"the {actor.role} role cannot change a staff account")
