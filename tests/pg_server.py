"""A throwaway PostgreSQL 15 server for fault tests: its own data folder
under /tmp, its own port, stopped as a crash would stop it and started again
on the same folder. Never touches the shared server on 5432.

    with PgServer(port) as pg:      # initdb'd, started, accepts connections
        pg.crash()                  # pg_ctl stop -m immediate: every backend dies, no checkpoint
        pg.start()                  # crash recovery from the WAL, same data
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

BIN = Path("/usr/lib/postgresql/15/bin")


class PgServer:
    def __init__(self, port: int) -> None:
        if not (BIN / "initdb").exists():
            raise FileNotFoundError(f"{BIN / 'initdb'} not found")
        self.port = port
        self._dir = Path(tempfile.mkdtemp(prefix=f"pg-{port}-"))
        self.data = self._dir / "data"
        self._running = False
        # initdb and the server refuse to run as root: run them as postgres
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            shutil.chown(self._dir, "postgres", "postgres")
        atexit.register(self.close)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60.0) -> None:
        proc = subprocess.run([*self._as, *args], capture_output=True, text=True, timeout=timeout, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {proc.stdout}{proc.stderr}\n{self.log_tail()}")

    def init(self) -> None:
        self._run(str(BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def start(self) -> None:
        opts = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self._dir} -c fsync=off"
        log = str(self._dir / "server.log")
        self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "-l", log, "-o", opts, "-w", "-t", "60", "start")
        self._running = True

    def crash(self) -> None:
        """Every backend killed at once, as a server crash or a restart of
        the host does (the client sees its connections drop)."""
        if self._running:
            self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
            self._running = False

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            ok = subprocess.run(
                [str(BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"], check=False
            ).returncode
            if ok == 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL on {self.port} is not ready\n{self.log_tail()}")
            time.sleep(0.05)

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = (self._dir / "server.log").read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def close(self) -> None:
        try:
            self.crash()
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)
            atexit.unregister(self.close)

    def __enter__(self) -> Self:
        try:
            self.init()
            self.start()
            self.wait_ready()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
