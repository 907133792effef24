"""`dispatch serve`: uvicorn with our WebSocket protocol and no personal data in logs."""

from __future__ import annotations

import logging
import os
import resource
import sys

import uvicorn

from dispatch.settings import CONFIG_ENV, Settings, with_overrides
from geo import SectorFileError, load_city

FAST_WS = "dispatch.live.frames:FastWSProtocol"


class _NoClientAddresses(logging.Filter):
    """uvicorn logs each WebSocket with the client's IP address, which is
    personal data (GDPR); we keep the event, not the address."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "WebSocket" not in str(record.msg)


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"no_addresses": {"()": _NoClientAddresses}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "err": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["no_addresses"],
            "stream": "ext://sys.stderr",
        }
    },
    "loggers": {
        "uvicorn": {"handlers": ["err"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"handlers": ["err"], "level": "INFO", "propagate": False},
        "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
        "dispatch": {"handlers": ["err"], "level": "INFO", "propagate": False},
    },
}


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
        log_config=LOGGING,
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
