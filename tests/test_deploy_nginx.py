"""deploy/nginx/dispatch.conf, as shipped (only its ports and certificate
paths rewritten), run by Debian's nginx in front of a real two-worker server
on PostgreSQL + Redis: a resident's alert goes in over HTTPS and comes out
live on an ops socket over WSS, through the proxy."""

from __future__ import annotations

import os
import re
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from tests.conftest import free_port
from tests.e2e import CENTRE, PASSWORD, Accounts, production_env, server_factory
from tests.support import REPO, next_message
from tests.tls import self_signed

SITE = REPO / "deploy" / "nginx" / "dispatch.conf"


def site_for(upstream_port: int, http_port: int, tls_port: int, cert: Path, key: Path) -> str:
    """The shipped site with loopback ports and the test's certificate; every
    other line (proxy headers, upgrade map, timeouts) is what a town installs."""
    text = SITE.read_text()
    replacements = [
        (r"server 127\.0\.0\.1:8000;", f"server 127.0.0.1:{upstream_port};"),
        (r"listen \[::\]:[^;]*;\n", ""),
        (r"listen 80;", f"listen 127.0.0.1:{http_port};"),
        (r"listen 443 ssl http2;", f"listen 127.0.0.1:{tls_port} ssl http2;"),
        (r"ssl_certificate +\S+;", f"ssl_certificate {cert};"),
        (r"ssl_certificate_key +\S+;", f"ssl_certificate_key {key};"),
    ]
    for pattern, new in replacements:
        text, n = re.subn(pattern, new, text)
        assert n >= 1, f"the shipped site no longer has {pattern!r}: update this test with it"
    return text


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[object]:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("nginx is missing (.ci/run installs it)")
        pytest.skip("nginx is not installed (apt-get install nginx)")
    procs: list[subprocess.Popen[bytes]] = []

    def start(site: str) -> None:
        (tmp_path / "site.conf").write_text(site)
        user = "user root;\n" if os.geteuid() == 0 else ""
        temp = "".join(
            f"    {k}_temp_path {tmp_path / k};\n" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        main = (
            f"{user}daemon off;\nworker_processes 1;\npid {tmp_path / 'nginx.pid'};\n"
            f"error_log {tmp_path / 'error.log'} warn;\nevents {{ worker_connections 1024; }}\n"
            f"http {{\n{temp}    include {tmp_path / 'site.conf'};\n}}\n"
        )
        conf = tmp_path / "nginx.conf"
        conf.write_text(main)
        check = subprocess.run([binary, "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        procs.append(subprocess.Popen([binary, "-p", str(tmp_path), "-c", str(conf)], stderr=subprocess.DEVNULL))

    yield start
    for p in procs:
        p.terminate()
        p.wait(timeout=10)


def wait_for(url: str, verify: ssl.SSLContext, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, verify=verify, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer through nginx in {timeout}s")


async def test_an_alert_and_its_live_delivery_pass_through_nginx(
    tmp_path: Path, pg_url: str, redis_url: str, bus_prefix: str, server_factory, nginx
) -> None:
    cert, key = self_signed(tmp_path)
    http_port, tls_port = free_port(), free_port()
    public = f"https://127.0.0.1:{tls_port}"
    env = {**production_env(pg_url, redis_url, bus_prefix), "DISPATCH_SERVER_PUBLIC_URL": public}
    accounts = Accounts(env)
    accounts.add("dispatcher", "desk@example.org")
    accounts.add("resident", "marie@example.org", *CENTRE)
    server = server_factory(env, workers=2)
    nginx(site_for(server.port, http_port, tls_port, cert, key))
    trust = ssl.create_default_context(cafile=str(cert))
    wait_for(public + "/healthz", trust)

    # Plain HTTP is redirected, never served.
    r = httpx.get(f"http://127.0.0.1:{http_port}/ops", follow_redirects=False)
    assert r.status_code == 301 and r.headers["location"].startswith("https://")

    async with httpx.AsyncClient(base_url=public, verify=trust, timeout=10) as http:
        desk = (await http.post("/api/auth/login", json={"email": "desk@example.org", "password": PASSWORD})).json()
        marie = (await http.post("/api/auth/login", json={"email": "marie@example.org", "password": PASSWORD})).json()
        headers = {"Authorization": f"Bearer {desk['token']}"}
        async with websockets.connect(
            public.replace("https", "wss") + "/ws/ops", additional_headers=headers, ssl=trust, open_timeout=10
        ) as ops:
            r = await http.post(
                "/api/alerts",
                json={"category": "fire", "lat": CENTRE[0], "lon": CENTRE[1], "text": "fumée"},
                headers={"Authorization": f"Bearer {marie['token']}"},
            )
            assert r.status_code == 201, r.text
            created = await next_message(ops, timeout=5, type_="alert.created")
            assert created["data"]["id"] == r.json()["id"]
