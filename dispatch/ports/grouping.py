"""The grouping port: what the store needs from the triage policy to group
new alerts into incidents inside the transaction that stores them, so an
alert is never seen without its incident. Implemented by
dispatch.core.incident_grouping.PolicyGrouping."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from dispatch.core.changes import Change
from dispatch.core.grouping import Group
from dispatch.core.model import Alert, Incident


class Grouping(Protocol):
    window_s: float

    def neighbourhood(self, alert: Alert) -> list[str]:
        """The grouping cells around the alert: where its candidates are anchored."""
        ...

    def attach(
        self, alerts: Sequence[Alert], candidates: Sequence[Incident], groups: Mapping[int, Group], now: datetime
    ) -> Change:
        """Attach each new alert to a candidate incident or open a new one."""
        ...
