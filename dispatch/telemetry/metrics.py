"""The metrics (docs/operations.md lists them) and the scrape.

Multiprocess mode: `dispatch serve` points PROMETHEUS_MULTIPROC_DIR at a
fresh folder before any worker imports prometheus_client; each worker then
writes its values to its own memory-mapped files and a scrape, answered by
any worker, sums them, so one scrape tells the whole server. Counters of a
worker that died stay counted (they happened); its live gauges are dropped
at the next scrape (mark_process_dead). Without the variable (an app
embedded in a test or a bench) the values live in this process only.

Labels are bounded vocabularies only: a route template, never a path; a
client kind, an event type, a backend, an operation, an exception class.
Never an id, an address or anything a client typed."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

CLIENTS = Gauge(
    "dispatch_connected_clients",
    "Open WebSocket streams, by kind (ops: desks and walls; resident)",
    ["kind"],
    multiprocess_mode="livesum",  # the sum over the workers alive now
)
PUBLISHED = Counter("dispatch_events_published", "Events committed and published by this server, by type", ["type"])
DELIVERED = Counter("dispatch_frames_delivered", "Live frames handed to client sockets, by client kind", ["kind"])
# A live wall: the floor on loopback is well under a millisecond, group
# commit and the hub's coalescing add up to a few (COALESCE_WITHIN_S is
# 5 ms), a cross-worker hop through Redis adds one or two; 100 ms is where
# an operator watching the wall starts to see lag, 1 s is late, 10 s is an
# incident (above that, +Inf: the event came from a replay after an outage).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LATENCY = Histogram(
    "dispatch_delivery_latency_seconds",
    "From an event's creation in the store to its frame written to the sockets of one audience",
    ["kind"],
    buckets=LATENCY_BUCKETS,
)
SLOW_CLOSES = Counter(
    "dispatch_slow_client_closes", "Sockets closed for falling behind their send bound (4008), by kind", ["kind"]
)
STORE_ERRORS = Counter(
    "dispatch_store_errors", "Store operations that failed, by backend and operation", ["backend", "op"]
)
BUS_ERRORS = Counter("dispatch_bus_errors", "Bus operations that failed, by backend and operation", ["backend", "op"])
HTTP = Counter(
    "dispatch_http_requests",
    "HTTP requests answered, by route template, method and status",
    ["route", "method", "status"],
)

# the two audiences of the hub, bound once: the hot path skips the label lookup
OPS_CLIENTS, RESIDENT_CLIENTS = CLIENTS.labels("ops"), CLIENTS.labels("resident")
_DELIVERED = {"ops": DELIVERED.labels("ops"), "resident": DELIVERED.labels("resident")}
_LATENCY = {"ops": LATENCY.labels("ops"), "resident": LATENCY.labels("resident")}
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

_backends = {"store": "unknown", "bus": "unknown"}


def set_backends(store: str, bus: str) -> None:
    """Named once at start-up (dispatch.wiring): the label of store and bus errors."""
    _backends["store"], _backends["bus"] = store, bus


def store_error(op: str) -> None:
    STORE_ERRORS.labels(_backends["store"], op).inc()


def bus_error(op: str, backend: str | None = None) -> None:
    BUS_ERRORS.labels(backend or _backends["bus"], op).inc()


def client_opened(resident: bool) -> None:
    (RESIDENT_CLIENTS if resident else OPS_CLIENTS).inc()


def client_closed(resident: bool) -> None:
    (RESIDENT_CLIENTS if resident else OPS_CLIENTS).dec()


def delivered(kind: str, frames: int, created_at: datetime) -> None:
    """One event written (or queued for this loop iteration's flush) to
    `frames` sockets of one audience."""
    if frames:
        _DELIVERED[kind].inc(frames)
        _LATENCY[kind].observe(max(time.time() - created_at.timestamp(), 0.0))


def delivered_late(resident: bool) -> None:
    """A frame held while its socket replayed, written at the replay's end."""
    _DELIVERED["resident" if resident else "ops"].inc()


def slow_close(resident: bool) -> None:
    SLOW_CLOSES.labels("resident" if resident else "ops").inc()


# (metric, label values) -> its child: labels() takes a lock and builds its
# key on every call; keeping the child cut the HTTP hook from about 14 to
# 5 us a request in multiprocess mode (measured on a loaded 2-core machine).
# Bounded: only metrics whose labels are bounded vocabularies come here
# (event types; route templates x methods x statuses)
_CHILDREN: dict[tuple[Any, ...], Any] = {}


def _child(metric: Counter, *values: str) -> Any:
    key = (metric, *values)
    child = _CHILDREN.get(key)
    if child is None:
        child = _CHILDREN[key] = metric.labels(*values)
    return child


def published(event_type: str) -> None:
    _child(PUBLISHED, event_type).inc()


def http_request(route: str, method: str, status: int) -> None:
    _child(HTTP, route, method if method in METHODS else "other", str(status)).inc()


class _Fixed(Collector):
    def __init__(self, families: Iterable[GaugeMetricFamily]) -> None:
        self.families = list(families)

    def collect(self) -> Iterable[GaugeMetricFamily]:
        return self.families


def outbox_family(depth: Mapping[str, int]) -> GaugeMetricFamily:
    """Queued out-of-band messages by channel, read from the store at the
    scrape: a property of the shared store, not of one worker."""
    family = GaugeMetricFamily("dispatch_outbox_depth", "Out-of-band messages queued, by channel", labels=["channel"])
    for channel in ("email", "sms", "push", *sorted(set(depth) - {"email", "sms", "push"})):
        family.add_metric([channel], float(depth.get(channel, 0)))
    return family


_LIVE_FILE = re.compile(r"^gauge_live\w*_(\d+)\.db$")


def _forget_dead_workers(folder: Path) -> None:
    for entry in folder.iterdir():
        m = _LIVE_FILE.match(entry.name)
        if m is None:
            continue
        pid = int(m.group(1))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            mark_process_dead(pid, str(folder))  # type: ignore[no-untyped-call]
        except PermissionError:
            pass


def render(extra: Iterable[GaugeMetricFamily] = ()) -> bytes:
    """The Prometheus text exposition of the whole server, plus `extra`."""
    folder = os.environ.get(MULTIPROC_ENV)
    registry = CollectorRegistry()
    if folder:
        _forget_dead_workers(Path(folder))
        MultiProcessCollector(registry, path=folder)  # type: ignore[no-untyped-call]
        body = generate_latest(registry)
    else:
        from prometheus_client import REGISTRY

        body = generate_latest(REGISTRY)
    fixed = CollectorRegistry()
    fixed.register(_Fixed(extra))
    return body + generate_latest(fixed)
