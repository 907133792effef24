"""A throwaway PostgreSQL 15 cluster for the chaos bench: initdb in a temp
dir, pg_ctl on a free port, so it can be stopped with `-m immediate` (every
backend SIGQUIT, no checkpoint: a crash as far as clients can tell) and
started again, without touching the shared server on 5432.

PostgreSQL refuses to run as root, so when we are root every command runs
as the `postgres` user (runuser) in a directory it owns."""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

BIN = Path("/usr/lib/postgresql/15/bin")


class PgCluster:
    def __init__(self, port: int) -> None:
        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix=f"chaos-pg-{port}-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self._as: list[str] = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        atexit.register(self.close)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str, timeout: float = 60.0) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [*self._as, *argv], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout
        )

    def init(self) -> None:
        # trust on loopback only; fsync stays on: an immediate stop must not
        # lose a committed alert, and that is part of what is tested
        self._run(str(BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        conf = self.data / "postgresql.conf"
        with open(conf, "a") as f:
            f.write(
                f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.dir}'\nmax_connections = 100\nshared_buffers = 64MB\n"
            )

    def start(self) -> None:
        self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self, mode: str = "immediate") -> None:
        """`immediate`: the postmaster SIGQUITs every backend and exits at
        once; the next start replays the WAL (crash recovery)."""
        self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        pid_file = self.data / "postmaster.pid"
        return pid_file.exists()

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            probe = subprocess.run(
                [str(BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"], check=False
            )
            if probe.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL on {self.port} not ready after {timeout:.0f} s")

    def close(self) -> None:
        atexit.unregister(self.close)
        if self.running():
            try:
                self.stop("immediate")
            except (subprocess.SubprocessError, OSError):
                pass
        shutil.rmtree(self.dir, ignore_errors=True)
