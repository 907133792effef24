"""Issue 18, a newcomer's first ten minutes: `dispatch user add --help`
lists the roles, and `dispatch simulate` against a real server shows a
progress bar (stderr) and ends with a one-line summary whose numbers are
what the store holds."""

from __future__ import annotations

import re
import sqlite3

from dispatch.core.model import ROLES
from tests.e2e import embedded_env, server_factory
from tests.support import dispatch_cli

SUMMARY = re.compile(
    r"^simulate: (\d+) alerts sent, (\d+) accepted, (\d+) refused in [\d.]+ s \(((?:[a-z]+ \d+(?:, )?)+)\)$"
)


def test_user_add_help_lists_the_roles(tmp_path) -> None:
    out = dispatch_cli("user", "add", "--help", env=embedded_env(tmp_path)).stdout
    assert all(role in out for role in ROLES), out
    bad = dispatch_cli(
        "user", "add", "--role", "mayor", "--email", "m@example.org", "--password", "x" * 12, check=False
    )
    assert bad.returncode == 2 and "resident" in bad.stderr


def test_simulate_sends_reports_and_summarises(tmp_path, server_factory) -> None:
    env = embedded_env(tmp_path)
    server = server_factory(env)
    run = dispatch_cli(
        "simulate", "--url", server.url, "--residents", "6", "--rate", "8", "--duration", "3", "--seed", "4", env=env
    )
    lines = run.stdout.strip().splitlines()
    assert len(lines) == 1, run.stdout
    m = SUMMARY.match(lines[0])
    assert m, lines[0]
    sent, accepted, refused = map(int, m.groups()[:3])
    assert sent == 24 and accepted == sent and refused == 0
    mix = {c: int(n) for c, n in (part.split(" ") for part in m.group(4).split(", "))}
    assert sum(mix.values()) == sent
    assert "24/24" in run.stderr  # tqdm's bar reached the end
    db = sqlite3.connect(env["DISPATCH_DATABASE_URL"].removeprefix("sqlite:///"))
    stored = dict(db.execute("SELECT category, count(*) FROM alerts GROUP BY category").fetchall())
    db.close()
    assert stored == mix
