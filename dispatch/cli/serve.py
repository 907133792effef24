"""`dispatch serve`: uvicorn with our WebSocket protocol, JSON logs without
personal data, and metrics summed over the workers."""

from __future__ import annotations

import os
import resource
import sys
from pathlib import Path

import uvicorn

from dispatch.settings import CONFIG_ENV, Settings, with_overrides
from dispatch.telemetry.logs import logging_config
from geo import SectorFileError, load_city

# as dispatch.telemetry.metrics names it; that module is not imported here,
# since importing prometheus_client fixes its mode
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

FAST_WS = "dispatch.live.frames:FastWSProtocol"


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def metrics_folder(settings: Settings, port: int) -> Path:
    """A fresh PROMETHEUS_MULTIPROC_DIR for this server, set before any worker
    imports prometheus_client (dispatch.telemetry.metrics): var/metrics-PORT
    beside the config (or the operator's PROMETHEUS_MULTIPROC_DIR), its
    value files removed, since another server's leftovers would count. The
    port names it: two servers on one host never share one."""
    folder = Path(os.environ.get(MULTIPROC_ENV) or settings.config_path.parent / "var" / f"metrics-{port}")
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.db"):
        old.unlink()
    return folder


def serve(settings: Settings, host: str | None, port: int | None, workers: int | None) -> int:
    host = host or settings.server_host
    port = port or settings.server_port
    workers = workers or settings.server_workers
    try:  # fail fast, naming the file and feature, before any worker starts
        load_city(settings.city_sectors)
    except SectorFileError as exc:
        print(f"dispatch: {exc}", file=sys.stderr)
        return 2
    if workers > 1 and settings.bus_url.startswith("memory:"):
        print("dispatch: --workers > 1 needs a shared bus: set bus.url to redis://…", file=sys.stderr)
        return 2
    if workers > 1 and settings.database_url.startswith("sqlite:"):
        print("dispatch: note: several workers on SQLite share one writer; PostgreSQL scales better", file=sys.stderr)
    raise_fd_limit()
    os.environ[CONFIG_ENV] = str(settings.config_path)
    # the address served is part of the server's own origin (Settings.browser_origins):
    # the workers read it back from the environment, like the config path
    os.environ["DISPATCH_SERVER_HOST"], os.environ["DISPATCH_SERVER_PORT"] = host, str(port)
    settings = with_overrides(settings, server_host=host, server_port=port)
    os.environ[MULTIPROC_ENV] = str(metrics_folder(settings, port))
    common = dict(
        host=host,
        port=port,
        ws=FAST_WS,
        # off on purpose: frames are a few hundred bytes; see dispatch/live/frames.py
        ws_per_message_deflate=False,
        ws_max_size=64 * 1024,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        access_log=False,
        log_config=logging_config(settings.log_level),
        backlog=4096,
        timeout_graceful_shutdown=5,
    )
    if settings.server_tls_cert:  # TLS terminated here (server.tls_cert, server.tls_key)
        common.update(ssl_certfile=settings.server_tls_cert, ssl_keyfile=settings.server_tls_key)
    if workers > 1:
        uvicorn.run("dispatch.http.app:app_from_env", factory=True, workers=workers, **common)  # type: ignore[arg-type]
    else:
        from dispatch.http.app import create_app

        uvicorn.run(create_app(settings, tune_gc=True), **common)  # type: ignore[arg-type]
    return 0
