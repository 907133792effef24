"""Patrol units: list, create, and set a unit's status (the decision is
core.incident_decisions.set_unit_status)."""

from __future__ import annotations

from typing import Any

from dispatch.core import incident_decisions
from dispatch.core.audit import entry
from dispatch.core.model import User, utcnow
from dispatch.core.validation import InputError
from dispatch.core.views import unit_view
from dispatch.ports.store import DuplicateUnit, Store
from dispatch.usecases.triage_writes import TriageWriter


class Units:
    def __init__(self, store: Store, writer: TriageWriter) -> None:
        self.store = store
        self.writer = writer

    async def listing(self) -> list[dict[str, Any]]:
        return [unit_view(u) for u in await self.store.list_units()]

    async def add(self, name: str) -> dict[str, Any]:
        try:
            return unit_view(await self.store.add_unit(name, utcnow()))
        except DuplicateUnit:
            raise InputError(409, "duplicate_unit", f"a unit named {name!r} exists", "name") from None

    async def set_status(self, actor: User, unit_id: int, status: str) -> dict[str, Any]:
        decide = incident_decisions.set_unit_status(unit_id, status)
        saved = await self.writer.run([], [], [unit_id], decide, [entry("unit.patch", "unit", unit_id, actor.id)])
        return unit_view(saved.units[unit_id])
