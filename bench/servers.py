"""Servers under test, each a subprocess in its own session (process group):
ours (`python -m dispatch serve`), the floor, the naive and the bare baselines."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import REPO
from bench.httpc import healthy
from bench.procstat import tree, tree_cpu, tree_rss_kb
from bench.profile import wrap

HOST = "127.0.0.1"


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    profile: Path | None = None
    started: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def cpu(self) -> float:
        return tree_cpu(self.pid)

    def rss_kb(self) -> int:
        return tree_rss_kb(self.pid)

    def pids(self) -> list[int]:
        return tree(self.pid)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    async def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            if await healthy(HOST, self.port):
                return
            await asyncio.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer /healthz within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM to the group we created (uvicorn shuts its workers down),
        then SIGKILL to that same group if it lingers."""
        if self.proc.poll() is None:
            try:
                # under py-spy, SIGINT: it writes its profile, uvicorn shuts down cleanly
                os.killpg(self.proc.pid, signal.SIGINT if self.profile else signal.SIGTERM)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(5)


def _launch(
    name: str, argv: list[str], port: int, log_dir: Path, env: dict[str, str] | None = None, profile: Path | None = None
) -> Server:
    log_path = log_dir / f"{name}-{port}.log"
    if profile is not None:
        argv = wrap(argv, profile)
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            argv,
            cwd=REPO,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return Server(name, port, proc, log_path, profile)


def start_ours(
    name: str,
    port: int,
    log_dir: Path,
    database_url: str,
    bus_url: str = "memory://",
    workers: int = 1,
    radius_m: float = 500.0,
    extra_env: dict[str, str] | None = None,
    profile: Path | None = None,
) -> Server:
    env = {
        "DISPATCH_DATABASE_URL": database_url,
        "DISPATCH_BUS_URL": bus_url,
        "DISPATCH_ALERTS_RADIUS_M": str(radius_m),
        # the benches post thousands of alerts from a few accounts: they measure
        # the write path and the fan-out, not the per-resident limit
        "DISPATCH_LIMITS_ALERTS_PER_WINDOW": "1000000000",
        **(extra_env or {}),
    }
    argv = [sys.executable, "-m", "dispatch", "serve", "--host", HOST, "--port", str(port), "--workers", str(workers)]
    return _launch(name, argv, port, log_dir, env, profile)


def start_floor(port: int, log_dir: Path, loop: str = "uvloop") -> Server:
    return _launch("floor", [sys.executable, "-m", "bench.floor", "--port", str(port), "--loop", loop], port, log_dir)


def start_naive(
    port: int, log_dir: Path, homes_path: Path, radius_m: float = 500.0, ws: str = "auto", name: str = "naive"
) -> Server:
    argv = [
        sys.executable,
        "-m",
        "bench.naive",
        "--port",
        str(port),
        "--homes",
        str(homes_path),
        "--radius-m",
        str(radius_m),
        "--ws",
        ws,
    ]
    return _launch(name, argv, port, log_dir)


def start_bare(port: int, log_dir: Path, backlog: int = 4096) -> Server:
    argv = [sys.executable, "-m", "bench.bare", "--port", str(port), "--backlog", str(backlog)]
    return _launch("bare", argv, port, log_dir)
