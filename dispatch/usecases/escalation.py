"""What time does to incidents: every few seconds, an overdue unacknowledged
incident rises one priority step per acknowledgement target elapsed
(core.incident_decisions.escalate)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from dispatch.core import incident_decisions
from dispatch.core.audit import entry
from dispatch.core.model import utcnow
from dispatch.core.triage_policy import Policy
from dispatch.ports.store import Store, StoreUnavailable
from dispatch.usecases.triage_writes import TriageWriter

log = logging.getLogger("dispatch.escalation")

# The shortest acknowledgement target is minutes: a 5 s pass keeps the
# screens within seconds of the rule at one indexed query per pass.
ESCALATION_EVERY_S = 5.0


class Escalation:
    def __init__(self, store: Store, writer: TriageWriter, policy: Policy) -> None:
        self.store = store
        self.writer = writer
        self.policy = policy
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._forever(), name="escalation")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def escalate_now(self) -> None:
        now = utcnow()
        due = [
            iid
            for iid, category, created, level in await self.store.overdue_incidents(now, self.policy.max_escalation)
            if incident_decisions.level_at(category, created, now, self.policy) > level
        ]
        if due:
            audit = [entry("incident.escalate", "incident", iid, None) for iid in due]  # time acts: the system
            await self.writer.run(due, [], [], incident_decisions.escalate(due, self.policy), audit)

    async def _forever(self) -> None:
        while True:
            await asyncio.sleep(ESCALATION_EVERY_S)
            try:
                await self.escalate_now()
            except StoreUnavailable as exc:  # the next pass catches up
                log.warning("escalation pass skipped: %s", exc)
            except Exception:
                log.exception("escalation pass failed")
