"""Fixtures shared by the end-to-end tests: environments for each backend,
accounts created through the real CLI, running servers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.support import REPO, Server, dispatch_cli

# Points inside the demo city (Narbonne): the town centre, and a point in
# Narbonne-Plage.
CENTRE = (43.1837, 3.0042)
PASSWORD = "correct horse battery staple"


@dataclass
class Accounts:
    env: dict[str, str]

    def add(self, role: str, email: str, lat: float | None = None, lon: float | None = None, name: str = "") -> int:
        args = ["user", "add", "--role", role, "--email", email, "--password", PASSWORD]
        if name:
            args += ["--name", name]
        if lat is not None and lon is not None:
            args += ["--lat", str(lat), "--lon", str(lon)]
        out = dispatch_cli(*args, env=self.env)
        return int(out.stdout.strip())


def config_copy(tmp: Path, extra: str = "") -> Path:
    """The shipped config.toml plus `extra` TOML, written under `tmp`. The
    city's files are made absolute (relative paths resolve against the
    config's own folder); var/ paths stay relative, so they land under `tmp`."""
    text = (REPO / "config.toml").read_text(encoding="utf-8")
    text = re.sub(
        r'^(sectors|streets) = "([^"/][^"]*)"$', lambda m: f'{m.group(1)} = "{REPO / m.group(2)}"', text, flags=re.M
    )
    path = tmp / "config.toml"
    path.write_text(text + "\n" + extra, encoding="utf-8")
    return path


# End-to-end tests post many alerts from few accounts: what they test is not
# the per-resident limit, whose own tests (tests/test_limits_e2e.py) set it.
NO_ALERT_LIMIT = {"DISPATCH_LIMITS_ALERTS_PER_WINDOW": "1000000"}


def embedded_env(tmp: Path) -> dict[str, str]:
    return {
        "DISPATCH_DATABASE_URL": f"sqlite:///{tmp / 'dispatch.sqlite3'}",
        "DISPATCH_BUS_URL": "memory://",
        **NO_ALERT_LIMIT,
    }


def production_env(pg_url: str, redis_url: str, prefix: str) -> dict[str, str]:
    return {
        "DISPATCH_DATABASE_URL": pg_url,
        "DISPATCH_BUS_URL": redis_url,
        "DISPATCH_BUS_PREFIX": prefix,
        **NO_ALERT_LIMIT,
    }


def store_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """For a fixture parametrized over ["sqlite", "postgres"]: the embedded
    environment, or PostgreSQL + Redis from the conftest fixtures."""
    if request.param == "sqlite":
        return embedded_env(tmp_path)
    fixtures = [request.getfixturevalue(n) for n in ("pg_url", "redis_url", "bus_prefix")]
    return production_env(*fixtures)


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[object]:
    servers: list[Server] = []

    def make(env: dict[str, str], workers: int = 1, port: int | None = None, ca: Path | None = None) -> Server:
        log = tmp_path / f"server-{len(servers)}.log"
        s = Server(port or free_port(), env, workers=workers, log_path=log, ca=ca)
        servers.append(s)
        s.start()
        return s

    yield make
    for s in servers:
        s.stop()
