"""Wiring: build every long-lived part from the settings, start and stop them."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from dispatch.adapters import open_bus, open_store
from dispatch.core.incident_grouping import PolicyGrouping
from dispatch.core.triage_policy import build_policy
from dispatch.live.hub import Hub
from dispatch.live.sequencer import Sequencer
from dispatch.ports.bus import Bus
from dispatch.ports.store import Store
from dispatch.settings import Settings
from dispatch.usecases.alerts import Dispatch
from dispatch.usecases.incidents import Triage
from dispatch.usecases.sessions import Sessions
from geo import City, load_city

log = logging.getLogger("dispatch")


@dataclass
class Services:
    settings: Settings
    city: City
    store: Store
    bus: Bus
    hub: Hub
    sequencer: Sequencer
    sessions: Sessions
    dispatch: Dispatch
    triage: Triage

    @property
    def store_kind(self) -> str:
        return self.settings.database_url.split(":", 1)[0]

    @property
    def bus_kind(self) -> str:
        return self.settings.bus_url.split(":", 1)[0]

    async def health_problems(self) -> list[str]:
        problems = []
        try:
            await self.store.ping()
        except Exception:
            problems.append("store")
        try:
            await self.bus.ping()
        except Exception:
            problems.append("bus")
        return problems

    async def stop(self) -> None:
        await self.triage.stop()
        await self.sequencer.stop()
        await self.bus.close()
        await self.store.close()


async def start_services(settings: Settings) -> Services:
    city = load_city(settings.city_sectors)
    policy, _ = build_policy(settings.triage)
    store = open_store(settings.database_url, settings.database_pool_size, PolicyGrouping(policy))
    await store.connect()
    await store.migrate()
    changed = await store.set_home_sectors(city.sector_of)
    if changed:
        log.info("re-assigned %d home sectors to the current city", changed)
    bus = open_bus(settings.bus_url, settings.bus_prefix)
    await bus.connect()
    hub = Hub(settings.alerts_radius_m)
    sequencer = Sequencer(store, bus, hub.deliver)
    hub.on_empty = sequencer.leave_later
    await sequencer.start()
    triage = Triage(store, sequencer, policy, city.sector_of)
    triage.start()
    return Services(
        settings=settings,
        city=city,
        store=store,
        bus=bus,
        hub=hub,
        sequencer=sequencer,
        sessions=Sessions(store, settings.server_session_ttl_hours),
        dispatch=Dispatch(city, store, sequencer, settings.alerts_radius_m, settings.city_cell_resolution, triage),
        triage=triage,
    )
