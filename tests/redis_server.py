"""A throwaway redis-server for fault tests: start it, kill it, start it
again on the same port. Never touches the shared Redis on 6379.

    with RedisServer(port) as server:   # started, answers PING
        server.stop()                   # SIGKILL: a crash, not a shutdown
        server.start()                  # same port, empty data
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self


class RedisServer:
    def __init__(self, port: int, binary: str = "redis-server") -> None:
        exe = shutil.which(binary)
        if exe is None:
            raise FileNotFoundError(f"{binary} not found on PATH")
        self.port = port
        self._exe = exe
        self._dir = Path(tempfile.mkdtemp(prefix=f"redis-{port}-"))
        self._pidfile = self._dir / "redis.pid"
        self._logfile = self._dir / "redis.log"
        self._pid: int | None = None
        # A daemonized server outlives us unless killed: cover test crashes too.
        atexit.register(self.close)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._pid is not None

    def start(self, timeout: float = 10.0) -> None:
        if self._pid is not None:
            raise RuntimeError(f"redis-server on port {self.port} is already running")
        self._pidfile.unlink(missing_ok=True)
        # --daemonize: the command returns once forked, and the pidfile is how we find it again.
        proc = subprocess.run(
            [
                self._exe,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "yes",
                "--pidfile",
                str(self._pidfile),
                "--dir",
                str(self._dir),
                "--logfile",
                str(self._logfile),
            ],
            check=False,  # a failure is reported below, with redis-server's stderr
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=timeout,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"redis-server failed to start: {proc.stderr.decode(errors='replace')}")
        deadline = time.monotonic() + timeout
        while not (self._pidfile.exists() and self._answers_ping()):
            if time.monotonic() > deadline:
                self._kill(self._read_pid())
                raise RuntimeError(f"redis-server on port {self.port} did not answer PING:\n{self._log_tail()}")
            time.sleep(0.01)
        self._pid = self._read_pid()

    def stop(self, timeout: float = 10.0) -> None:
        """Kill the server and wait until its port refuses connections."""
        pid, self._pid = self._pid, None
        if pid is None:
            return
        self._kill(pid)
        deadline = time.monotonic() + timeout
        while self._port_open():
            if time.monotonic() > deadline:
                raise RuntimeError(f"port {self.port} still open {timeout}s after killing redis-server {pid}")
            time.sleep(0.01)

    def pause(self) -> None:
        """SIGSTOP: the port stays open but nothing answers (a hung server)."""
        if self._pid is not None:
            os.kill(self._pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self._pid is not None:
            os.kill(self._pid, signal.SIGCONT)

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)
            atexit.unregister(self.close)

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # helpers

    def _read_pid(self) -> int | None:
        try:
            return int(self._pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    @staticmethod
    def _kill(pid: int | None) -> None:
        if pid is None:
            return
        # Guard against a recycled pid: only ever kill a redis-server.
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            cmdline = b"redis-server"  # no /proc (not Linux) or already gone
        if b"redis-server" not in cmdline:
            return
        try:
            os.kill(pid, signal.SIGKILL)  # kills a paused (SIGSTOP) server too
        except ProcessLookupError:
            pass

    def _answers_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def _port_open(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self._logfile.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
