"""Proofs of address in a folder of their own (proofs.dir, outside anything
the server serves), one file per proof under a random name with no
extension: a name says nothing of its owner and cannot be guessed. The
folder and its files are readable by the server's user only."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
from pathlib import Path

_NAME = re.compile(r"^[0-9a-f]{32}$")


class ProofFolder:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, name: str) -> Path:
        if not _NAME.match(name):  # never a path from elsewhere
            raise ValueError("not a proof file name")
        return self.root / name

    def _write(self, data: bytes) -> str:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = secrets.token_hex(16)
        fd = os.open(self._path(name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        return name

    def _read(self, name: str) -> bytes | None:
        try:
            return self._path(name).read_bytes()
        except FileNotFoundError:
            return None

    def _delete(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(name).unlink()

    async def save(self, data: bytes) -> str:
        return await asyncio.to_thread(self._write, data)

    async def read(self, name: str) -> bytes | None:
        return await asyncio.to_thread(self._read, name)

    async def delete(self, name: str) -> None:
        await asyncio.to_thread(self._delete, name)
