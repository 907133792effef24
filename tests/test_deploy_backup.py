"""The backup and restore commands of deploy/README.md, run verbatim (read
from between its markers): a database with accounts, alerts and events is
dumped, restored into an empty one, and a server on the restored database
serves the same alerts, logs the same accounts in and resumes the event
sequence past what it had."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg

from tests.conftest import PG_ADMIN_URL, pg_url_for
from tests.e2e import CENTRE, PASSWORD, Accounts, production_env, server_factory
from tests.support import REPO, login

GUIDE = REPO / "deploy" / "README.md"


def guide_block(marker: str) -> str:
    text = GUIDE.read_text()
    start, end = text.index(f"<!-- {marker} -->"), text.index(f"<!-- /{marker} -->")
    return "\n".join(line for line in text[start:end].splitlines()[1:] if not line.startswith("```"))


def run_guide(marker: str, env: dict[str, str]) -> None:
    # the console script next to this interpreter, as a deployment has it in its venv
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", guide_block(marker)],
        cwd=REPO,
        env={**os.environ, **env, "PATH": path},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"{marker}: {done.stderr}"


async def test_a_backup_restores_into_a_server_that_serves_it(
    tmp_path: Path, pg_url: str, redis_url: str, bus_prefix: str, server_factory
) -> None:
    env = production_env(pg_url, redis_url, bus_prefix)
    Accounts(env).add("resident", "marie@example.org", *CENTRE)
    Accounts(env).add("dispatcher", "desk@example.org")
    server = server_factory(env)
    marie = await login(server.url, "marie@example.org", PASSWORD)
    posted = [(await marie.post_alert(category=c, lat=CENTRE[0], lon=CENTRE[1])).json() for c in ("fire", "theft")]
    await marie.aclose()
    server.stop()

    backup = tmp_path / "dispatch.dump"
    run_guide("backup", {"BACKUP": str(backup), "DATABASE_URL": pg_url})
    restored = "r_" + uuid.uuid4().hex[:12]
    admin = await asyncpg.connect(PG_ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{restored}"')
    await admin.close()
    try:
        restore_url = pg_url_for(restored)
        run_guide("restore", {"BACKUP": str(backup), "RESTORE_URL": restore_url, "DISPATCH_DATABASE_URL": restore_url})
        server = server_factory({**env, "DISPATCH_DATABASE_URL": restore_url})
        desk = await login(server.url, "desk@example.org", PASSWORD)
        listed = (await desk.http.get("/api/alerts")).json()
        assert sorted(a["id"] for a in listed) == sorted(a["id"] for a in posted)
        marie = await login(server.url, "marie@example.org", PASSWORD)
        after = (await marie.post_alert(category="weather", lat=CENTRE[0], lon=CENTRE[1])).json()
        assert after["id"] > max(a["id"] for a in posted)
        # the event sequence goes on past the restored events: no seq is reused,
        # so a client resuming with ?since= cannot skip a new event
        assert after["seq"] > max(a["seq"] for a in posted)
        await marie.aclose()
        await desk.aclose()
        server.stop()
    finally:
        admin = await asyncpg.connect(PG_ADMIN_URL)
        await admin.execute(f'DROP DATABASE IF EXISTS "{restored}" WITH (FORCE)')
        await admin.close()
