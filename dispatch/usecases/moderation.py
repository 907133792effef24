"""Moderation: residents' applications (list, read a proof -- audited --,
validate or reject), residents' flags on alerts, hiding and restoring
alerts, suspending and reinstating accounts. The decisions are pure
(core.moderation); the store commits them, with their events when residents'
streams must hear of it."""

from __future__ import annotations

from typing import Any

from dispatch.core import moderation
from dispatch.core.audit import entry, identity_views
from dispatch.core.codec import CLOSE_ACCOUNT_SUSPENDED
from dispatch.core.model import Event, Flag, User, iso, utcnow
from dispatch.core.moderation import Decision
from dispatch.core.routing import home_channel
from dispatch.core.validation import InputError
from dispatch.core.views import account_view, alert_moderation, alert_staff
from dispatch.ports.proofs import ProofFiles
from dispatch.ports.publisher import Publisher
from dispatch.ports.store import DuplicateFlag, Store
from dispatch.usecases.alerts import Alerts
from dispatch.usecases.notifications import Notifications
from dispatch.usecases.sessions import Sessions

LIST_LIMIT = 500


class Moderation:
    def __init__(
        self,
        store: Store,
        proofs: ProofFiles,
        publisher: Publisher,
        sessions: Sessions,
        alerts: Alerts,
        notifications: Notifications | None = None,
    ) -> None:
        self.notifications = notifications
        self.store = store
        self.proofs = proofs
        self.publisher = publisher
        self.sessions = sessions
        self.alerts = alerts

    # -- residents' applications ------------------------------------------------

    async def residents(self, viewer: User, status: str, limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
        """Residents' accounts with that status, oldest first, each with its
        latest proof; the viewer is recorded to have seen each identity."""
        users = await self.store.residents_by_status(status, limit)
        views = [account_view(u, await self.store.latest_proof(u.id)) for u in users]
        await self.store.record_audit(identity_views(viewer.id, (u.id for u in users)))
        return views

    async def proof(self, viewer: User, account_id: int) -> tuple[bytes, str, str]:
        """(bytes, media type, proof id) of the account's latest proof. Every
        call is recorded first, found or not: who, when, which account."""
        proof = await self.store.latest_proof(account_id)
        await self.store.record_proof_view(viewer.id, account_id, proof.id if proof else None, utcnow())
        data = await self.proofs.read(proof.file_name) if proof is not None else None
        if proof is None or data is None:
            raise InputError(404, "not_found", f"no proof for account {account_id}")
        return data, proof.media_type, str(proof.id)

    async def _target(self, account_id: int) -> User:
        user = await self.store.user_by_id(account_id)
        if user is None:
            raise InputError(404, "not_found", f"no account {account_id}")
        return user

    async def _set_status(self, actor: User, target: User, decision: Decision) -> dict[str, Any]:
        status = moderation.next_status(decision.action, target.status)
        audit = [entry(f"moderation.{decision.action}", "account", target.id, actor.id)]
        done = await self.store.set_account_status(target.id, status, decision.reason, utcnow(), audit)
        if done is None:
            raise InputError(404, "not_found", f"no account {target.id}")
        user, event = done
        # every worker forgets the account's cached sessions (account.changed
        # on the control channel): its next request reads the new status
        await self.publisher.publish(event)
        self.sessions.forget(user.id, None)
        return account_view(user, await self.store.latest_proof(user.id))

    async def decide(self, actor: User, account_id: int, decision: Decision) -> dict[str, Any]:
        """Validate or reject a pending resident."""
        target = await self._target(account_id)
        if not target.is_resident:
            raise InputError(404, "not_found", f"no resident account {account_id}")
        view = await self._set_status(actor, target, decision)
        if self.notifications is not None:  # the applicant hears of it by e-mail (issue 19)
            await self.notifications.decision_email(target, decision.action == "validate", decision.reason)
        return view

    async def account(self, actor: User, account_id: int, decision: Decision) -> dict[str, Any]:
        """Suspend or reinstate. A suspension ends every session of the
        account and closes its sockets with 4003, on every worker."""
        target = await self._target(account_id)
        moderation.may_act_on(actor, target)
        view = await self._set_status(actor, target, decision)
        if decision.action == "suspend":
            await self.sessions.end_user(target.id, code=CLOSE_ACCOUNT_SUSPENDED)
        return view

    # -- flags and alerts ---------------------------------------------------------

    async def flag(self, resident: User, alert_id: int, reason: str) -> dict[str, Any]:
        await self.alerts.one(resident, alert_id)  # 404 unless the resident can see it
        try:
            flag = await self.store.add_flag(alert_id, resident.id, reason, utcnow())
        except DuplicateFlag:
            raise InputError(409, "duplicate_flag", "you have flagged this alert already") from None
        return _flag_view(flag)

    async def open_flags(self, viewer: User, limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
        """Open flags grouped by alert, the alert flagged first first, each
        with its author (recorded as seen by the viewer)."""
        by_alert: dict[int, list[Flag]] = {}
        for flag in await self.store.open_flags(limit):
            by_alert.setdefault(flag.alert_id, []).append(flag)
        out, authors = [], []
        for alert_id, flags in by_alert.items():
            alert = await self.store.get_alert(alert_id)
            if alert is not None:
                view = alert_moderation(alert_staff(alert), with_author=True)
                out.append({"alert": view, "flags": [_flag_view(f) for f in flags]})
                authors.append(alert.author)
        await self.store.record_audit(identity_views(viewer.id, authors))
        return out

    async def alert(self, actor: User, alert_id: int, decision: Decision) -> dict[str, Any]:
        """Hide, hide the text alone, or restore (both); each closes the
        alert's open flags. Hiding tells the residents who had it
        (alert.removed) and the ops screens (alert.updated); hiding the text
        or showing it again tells the ops screens and the residents who have
        it on screen (alert.text)."""
        alert = await self.store.get_alert(alert_id)
        if alert is None:
            raise InputError(404, "not_found", "no such alert")
        audit = [entry(f"moderation.{decision.action}", "alert", alert_id, actor.id)]
        events: list[Event] = []
        extra = await self._author_channel(alert.author)
        if decision.action == "hide_text" or alert.text_hidden:
            done = await self.store.set_text_hidden(alert_id, decision.action == "hide_text", extra, utcnow(), audit)
            if done is None:
                raise InputError(404, "not_found", "no such alert")
            saved, events = done
            audit = []  # recorded once
        if decision.action != "hide_text":
            moderated = await self.store.moderate_alert(
                alert_id, decision.action == "hide", decision.reason or "", extra, utcnow(), audit
            )
            if moderated is None:
                raise InputError(404, "not_found", "no such alert")
            saved, more = moderated
            events += more
        for event in events:
            await self.publisher.publish(event)
        return alert_moderation(alert_staff(saved), with_author=True)

    async def _author_channel(self, author: int | None) -> list[str]:
        """The author's stream channel: they had the alert among their own
        (an anonymous alert has nobody's)."""
        user = await self.store.user_by_id(author) if author is not None else None
        home = user.home if user is not None else None
        return [home_channel(home.lat, home.lon, home.sector)] if home is not None else []


def _flag_view(flag: Flag) -> dict[str, Any]:
    return {"id": flag.id, "alert": flag.alert_id, "reason": flag.reason, "created_at": iso(flag.created_at)}
