"""The account commands through the real CLI, against real servers: the
password policy, --password-stdin, import's progress bar, and passwd, list
and disable ending sessions and sockets on every worker."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import httpx
import pytest
import websockets

from tests.e2e import CENTRE, PASSWORD, Accounts, embedded_env, production_env, server_factory
from tests.support import REPO, closed_with, dispatch_cli, login, stream

LAT, LON = CENTRE
NEW_PASSWORD = "a quite different phrase"


def cli_stdin(stdin: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dispatch", *args],
        cwd=REPO,
        env={**os.environ, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(params=["embedded", "production"])
def env(request, tmp_path) -> dict[str, str]:
    if request.param == "embedded":
        return embedded_env(tmp_path)
    return production_env(
        request.getfixturevalue("pg_url"), request.getfixturevalue("redis_url"), request.getfixturevalue("bus_prefix")
    )


def test_the_password_policy_applies_to_user_add(tmp_path) -> None:
    env = embedded_env(tmp_path)
    base = ["user", "add", "--role", "dispatcher", "--email", "jean.dupont@example.org", "--name", "Jean Dupont"]
    for weak in (
        "short",
        "azertyuiop",
        "1234567890",
        "jean.dupont@example.org",
        "jean.dupont",
        "Jean Dupont",
        "aaaaaaaaaaaa",
    ):
        done = dispatch_cli(*base, "--password", weak, env=env, check=False)
        assert done.returncode == 2 and done.stdout == "", (weak, done.stderr)
        assert "password" in done.stderr, weak
    assert dispatch_cli(*base, "--password", PASSWORD, env=env).stdout.strip().isdigit()


def test_password_stdin_and_password_exclude_each_other(tmp_path) -> None:
    env = embedded_env(tmp_path)
    base = ["user", "add", "--role", "supervisor", "--email", "s@example.org"]
    both = cli_stdin(PASSWORD + "\n", *base, "--password", PASSWORD, "--password-stdin", env=env)
    assert both.returncode == 2 and "not allowed with" in both.stderr
    neither = dispatch_cli(*base, env=env, check=False)
    assert neither.returncode == 2 and "--password" in neither.stderr
    empty = cli_stdin("", *base, "--password-stdin", env=env)
    assert empty.returncode == 2 and "standard input" in empty.stderr


def test_import_checks_every_password_and_shows_its_progress(tmp_path) -> None:
    env = embedded_env(tmp_path)
    weak = tmp_path / "weak.csv"
    weak.write_text(
        "role,email,password,name,lat,lon\n"
        f"resident,a@example.org,{PASSWORD},Anne,43.18,3.0\n"
        "resident,b@example.org,motdepasse,Bea,43.18,3.0\n"
    )
    done = dispatch_cli("user", "import", str(weak), env=env, check=False)
    assert done.returncode == 1 and "line 3" in done.stderr and "guessed" in done.stderr
    good = tmp_path / "good.csv"
    good.write_text(
        "role,email,password,name,lat,lon\n"
        + "".join(f"resident,r{i}@example.org,{PASSWORD} {i},R{i},43.18,3.0\n" for i in range(6))
    )
    done = dispatch_cli("user", "import", str(good), env=env)
    assert done.stdout.strip() == "6" and "hashing passwords" in done.stderr  # tqdm, on stderr only


async def _refused_everywhere(url: str, token: str, within: float) -> bool:
    """401 for the token on fresh connections (any worker), within `within` s."""
    deadline = time.monotonic() + within
    auth = {"Authorization": f"Bearer {token}", "Connection": "close"}
    while time.monotonic() < deadline:
        if {httpx.get(url + "/api/me", headers=auth).status_code for _ in range(6)} == {401}:
            return True
        await asyncio.sleep(0.1)
    return False


async def test_passwd_reads_stdin_and_ends_every_session(env, server_factory) -> None:
    Accounts(env).add("resident", "marie@example.org", LAT, LON)
    server = server_factory(env, workers=2 if "redis" in env["DISPATCH_BUS_URL"] else 1)
    old = await login(server.url, "marie@example.org", PASSWORD)
    async with stream(server.ws_url, "/ws/resident", old.token) as ws:
        weak = cli_stdin(
            "marie@example.org\n", "user", "passwd", "--email", "marie@example.org", "--password-stdin", env=env
        )
        assert weak.returncode == 2
        done = cli_stdin(
            NEW_PASSWORD + "\n", "user", "passwd", "--email", "marie@example.org", "--password-stdin", env=env
        )
        assert done.returncode == 0, done.stderr
        assert await closed_with(ws, 3.0) == 4001
    assert await _refused_everywhere(server.url, old.token, 3.0)
    r = httpx.post(server.url + "/api/auth/login", json={"email": "marie@example.org", "password": PASSWORD})
    assert r.status_code == 401
    assert (await login(server.url, "marie@example.org", NEW_PASSWORD)).token  # the line end is not part of it
    missing = cli_stdin(
        NEW_PASSWORD + "\n", "user", "passwd", "--email", "nobody@example.org", "--password-stdin", env=env
    )
    assert missing.returncode == 1
    await old.aclose()


async def test_list_and_disable(env, server_factory) -> None:
    acc = Accounts(env)
    res_id = acc.add("resident", "res@example.org", LAT, LON)
    disp_id = acc.add("dispatcher", "disp@example.org")
    acc.add("supervisor", "sup@example.org")
    server = server_factory(env, workers=2 if "redis" in env["DISPATCH_BUS_URL"] else 1)
    disp = await login(server.url, "disp@example.org", PASSWORD)
    listed = dispatch_cli("user", "list", env=env).stdout
    assert listed.splitlines()[:2] == [
        f"{res_id}\tresident\tres@example.org\tvalidated",
        f"{disp_id}\tdispatcher\tdisp@example.org\tvalidated",
    ]
    assert "argon2" not in listed and len(listed.splitlines()) == 3
    assert dispatch_cli("user", "list", "--role", "dispatcher", env=env).stdout.splitlines() == [
        f"{disp_id}\tdispatcher\tdisp@example.org\tvalidated"
    ]
    assert dispatch_cli("user", "list", "--role", "mayor", env=env, check=False).returncode == 2
    async with stream(server.ws_url, "/ws/ops", disp.token) as ws:
        assert dispatch_cli("user", "disable", "--email", "disp@example.org", env=env).stdout.strip() == str(disp_id)
        assert await closed_with(ws, 3.0) == 4003
    assert await _refused_everywhere(server.url, disp.token, 3.0)
    r = httpx.post(server.url + "/api/auth/login", json={"email": "disp@example.org", "password": PASSWORD})
    assert r.status_code == 401  # as if it did not exist
    assert f"{disp_id}\tdispatcher\tdisp@example.org\tdisabled" in dispatch_cli("user", "list", env=env).stdout
    assert dispatch_cli("user", "disable", "--email", "nobody@example.org", env=env, check=False).returncode == 1
    await disp.aclose()
