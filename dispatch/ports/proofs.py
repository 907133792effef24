"""The proof files port: where proofs of address are kept, under random
names, outside anything the server serves. Implemented by
dispatch.adapters.proof_files.ProofFolder; the store keeps only the name."""

from __future__ import annotations

from typing import Protocol


class ProofFiles(Protocol):
    async def save(self, data: bytes) -> str:
        """Store the bytes under a new random name; the name."""
        ...

    async def read(self, name: str) -> bytes | None:
        """The bytes, or None when there is no such file."""
        ...

    async def delete(self, name: str) -> None: ...
