"""Wiring: the one place that builds every long-lived object from the
settings (store and bus adapters by URL scheme, the live path, the use
cases), starts them in order and stops them in reverse.

May import every layer below the HTTP edge: dispatch.core, dispatch.ports,
dispatch.adapters, dispatch.usecases, dispatch.live, dispatch.settings,
dispatch.telemetry, geo.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from dispatch.adapters import open_bus, open_limits, open_store
from dispatch.adapters.proof_files import ProofFolder
from dispatch.adapters.sms_gateway import SmsGateway
from dispatch.adapters.smtp_sender import SmtpSender
from dispatch.adapters.web_push import WebPushSender, load_or_create_key, public_key
from dispatch.core.incident_grouping import PolicyGrouping
from dispatch.core.retention import Retention
from dispatch.core.routing import CONTROL
from dispatch.core.triage_policy import Policy, build_policy
from dispatch.live.hub import Hub
from dispatch.live.sequencer import Sequencer
from dispatch.ports.bus import Bus
from dispatch.ports.limits import Limits
from dispatch.ports.notifier import Sender
from dispatch.ports.store import Store, StoreUnavailable
from dispatch.settings import Settings
from dispatch.telemetry import metrics
from dispatch.usecases.alerts import Alerts
from dispatch.usecases.broadcasts import Broadcasts
from dispatch.usecases.delivery import Delivery, DeliveryPolicy
from dispatch.usecases.escalation import Escalation
from dispatch.usecases.incidents import Incidents
from dispatch.usecases.joining import Joining
from dispatch.usecases.login_guard import LoginGuard, LoginPolicy
from dispatch.usecases.moderation import Moderation
from dispatch.usecases.notifications import Notifications
from dispatch.usecases.privacy import Privacy, Purge
from dispatch.usecases.quotas import Quotas
from dispatch.usecases.replay import ReplayReads
from dispatch.usecases.reports import Reports
from dispatch.usecases.sessions import Sessions
from dispatch.usecases.sms_intake import SmsIntake
from dispatch.usecases.triage_writes import TriageWriter
from dispatch.usecases.units import Units
from geo import City, load_city
from geo.streets import Gazetteer, load_streets

log = logging.getLogger("dispatch")

# Start-up retries while the store is away: soon at first (a restart of
# PostgreSQL takes a few seconds), then every 5 s, the Retry-After we answer.
START_RETRY_FIRST_S = 0.5
START_RETRY_MAX_S = 5.0


@dataclass
class Services:
    settings: Settings
    city: City
    store: Store
    bus: Bus
    hub: Hub
    sequencer: Sequencer
    sessions: Sessions
    alerts: Alerts
    broadcasts: Broadcasts
    incidents: Incidents
    units: Units
    reports: Reports
    escalation: Escalation
    joining: Joining
    moderation: Moderation
    privacy: Privacy
    purge: Purge
    limits: Limits
    quotas: Quotas
    notifications: Notifications
    sms_intake: SmsIntake
    delivery: Delivery
    replays: ReplayReads

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
        await self.delivery.stop()
        await self.purge.stop()
        await self.escalation.stop()
        await self.sequencer.stop()
        await self.bus.close()
        await self.limits.close()
        await self.store.close()


async def _ready_store(settings: Settings, city: City, policy: Policy) -> Store:
    """The store, connected, migrated, its homes in the current city's sectors."""
    store = open_store(settings.database_url, settings.database_pool_size, PolicyGrouping(policy))
    # A worker (re)started while the store is away waits for it instead of
    # failing its start-up: uvicorn stops every worker when one fails to
    # start, and systemd gives up after 5 failed starts in 10 s.
    delay = START_RETRY_FIRST_S
    while True:
        try:
            await store.connect()
            await store.migrate()
            break
        except StoreUnavailable as exc:
            log.warning("store not reachable at start, next try in %.1f s: %s", delay, exc)
            metrics.store_error("start")
            await asyncio.sleep(delay)
            delay = min(delay * 2, START_RETRY_MAX_S)
    changed = await store.set_home_sectors(city.sector_of)
    if changed:
        log.info("re-assigned %d home sectors to the current city", changed)
    return store


async def start_services(settings: Settings) -> Services:
    city = load_city(settings.city_sectors)
    policy, _ = build_policy(settings.triage)
    store = await _ready_store(settings, city, policy)
    metrics.set_backends(settings.database_url.split(":", 1)[0], settings.bus_url.split(":", 1)[0])
    bus = open_bus(settings.bus_url, settings.bus_prefix)
    await bus.connect()
    hub = Hub(settings.alerts_radius_m)
    sequencer = Sequencer(store, bus, hub.deliver)
    hub.on_empty = sequencer.leave_later
    await sequencer.start()
    await sequencer.join(CONTROL)  # every worker hears of ended sessions
    limits = open_limits(settings.bus_url, settings.bus_prefix)
    await limits.connect()
    guard = LoginGuard(limits, login_policy(settings))
    sessions = Sessions(
        store, settings.server_session_ttl_hours, sequencer, guard, idle_minutes=settings.server_idle_minutes
    )
    hub.on_session_ended = sessions.forget
    writer = TriageWriter(store, sequencer)
    escalation = Escalation(store, writer, policy)
    escalation.start()
    quotas = quotas_for(settings, limits)
    delivery, notifications = start_delivery(settings, store, sequencer, hub)
    sms = (settings.notify_sms_number, settings.notify_sms_max_segments)
    alerts = Alerts(
        city, store, sequencer, settings.alerts_radius_m, settings.city_cell_resolution, *sms, delivery.wake
    )
    proofs = ProofFolder(settings.proofs_dir)
    purge = Purge(store, proofs, retention(settings), settings.retention_purge_every_hours)
    purge.start()
    return Services(
        settings=settings,
        city=city,
        store=store,
        bus=bus,
        hub=hub,
        sequencer=sequencer,
        sessions=sessions,
        alerts=alerts,
        broadcasts=Broadcasts(city, store, sequencer, *sms, delivery.wake),
        incidents=Incidents(store, writer, policy),
        units=Units(store, writer),
        reports=Reports(store),
        escalation=escalation,
        joining=Joining(city, store, proofs),
        moderation=Moderation(store, proofs, sequencer, sessions, alerts, notifications),
        privacy=Privacy(store, proofs, sequencer, sessions),
        purge=purge,
        limits=limits,
        quotas=quotas,
        notifications=notifications,
        sms_intake=SmsIntake(city, streets(settings), store, alerts, quotas, notifications, settings.notify_sms_secret),
        delivery=delivery,
        replays=ReplayReads(store),
    )


def quotas_for(settings: Settings, limits: Limits) -> Quotas:
    return Quotas(
        limits,
        settings.limits_alerts_per_window,
        settings.limits_flags_per_window,
        settings.limits_window_minutes * 60,
        settings.limits_sockets_per_account,
    )


def streets(settings: Settings) -> Gazetteer | None:
    """The SMS intake's street gazetteer (city.streets), if the city has one."""
    return load_streets(settings.city_streets) if settings.city_streets is not None else None


def start_delivery(settings: Settings, store: Store, sequencer: Sequencer, hub: Hub) -> tuple[Delivery, Notifications]:
    """The outbox's workers of this process, started, and the use case that queues single messages."""
    vapid = load_or_create_key(settings.notify_vapid_key)
    delivery = Delivery(store, sequencer, senders(settings, store, vapid), delivery_policy(settings), worker_name())
    delivery.app_reached = lambda: hub.app_reached
    delivery.start()
    notifications = Notifications(
        store, public_key(vapid), settings.notify_sms_number, settings.notify_sms_max_segments, delivery.wake
    )
    return delivery, notifications


def worker_name() -> str:
    """Names this process in the outbox leases it holds."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def delivery_policy(settings: Settings) -> DeliveryPolicy:
    return DeliveryPolicy(
        batch=settings.notify_batch,
        concurrency=settings.notify_concurrency,
        lease_s=settings.notify_lease_s,
        poll_s=settings.notify_poll_s,
        retry_base_s=settings.notify_retry_base_s,
        retry_cap_s=settings.notify_retry_cap_s,
        max_attempts=settings.notify_max_attempts,
    )


def senders(settings: Settings, store: Store, vapid: Any) -> list[Sender]:
    """A sender for each configured channel; an unconfigured one is off and
    its rows wait (docs/reference.md, Delivery). Push needs no server of
    ours: it is always on."""
    out: list[Sender] = []
    if settings.notify_smtp_host:
        s = settings
        unsubscribe = (s.server_public_url or f"http://{s.server_host}:{s.server_port}").rstrip("/") + "/#notifications"
        out.append(
            SmtpSender(
                s.notify_smtp_host,
                s.notify_smtp_port,
                s.notify_smtp_from,
                s.notify_smtp_tls,
                s.notify_smtp_user,
                s.notify_smtp_password,
                unsubscribe,
            )
        )
    if settings.notify_sms_url:
        out.append(
            SmsGateway(settings.notify_sms_url, settings.notify_sms_token, connections=settings.notify_concurrency)
        )
    out.append(WebPushSender(vapid, settings.notify_vapid_subject, store, connections=settings.notify_concurrency))
    return out


def retention(settings: Settings) -> Retention:
    return Retention(
        alert_detail_days=settings.retention_alert_detail_days,
        proof_days=settings.retention_proof_days,
        account_days=settings.retention_account_days,
        session_days=settings.retention_session_days,
        audit_days=settings.retention_audit_days,
        outbox_days=settings.retention_outbox_days,
    )


def login_policy(settings: Settings) -> LoginPolicy:
    return LoginPolicy(
        per_account=settings.limits_login_failures_per_account,
        per_address=settings.limits_login_failures_per_address,
        window_s=settings.limits_login_window_minutes * 60,
        lockout_s=settings.limits_lockout_minutes * 60,
    )


@asynccontextmanager
async def opened_store(settings: Settings) -> AsyncIterator[Store]:
    """The configured store, migrated, for a command that runs and exits (a
    few connections: it shares PostgreSQL's 100 with running workers)."""
    store = open_store(settings.database_url, min(settings.database_pool_size, 4))
    await store.connect()
    try:
        await store.migrate()
        yield store
    finally:
        await store.close()
