"""Parent side of the light clients: a pool of processes, each with its own
source address, owning connections i with i % procs == k.

Several processes because one Python process ingests ~100k small frames per
second of CPU at best, and the server under test gets the other core; and
several source addresses because loopback offers ~28k ports per address."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
from collections.abc import Callable, Sequence
from typing import Any

from bench import client


class ClientError(RuntimeError):
    pass


class ClientPool:
    def __init__(self, procs: int = 4, target: Callable[..., None] = client.main) -> None:
        """target(pipe, source address): the client process (bench/storm_client.py has its own)."""
        ctx = mp.get_context("spawn")  # no inherited event loop or server state
        self.procs = procs
        self.pipes = []
        self.workers = []
        for k in range(procs):
            parent, child = ctx.Pipe()
            # 127.0.0.2, .3, ...: a fresh port range per process
            p = ctx.Process(target=target, args=(child, f"127.0.0.{k + 2}"), daemon=True, name=f"bench-client-{k}")
            p.start()
            child.close()
            self.pipes.append(parent)
            self.workers.append(p)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.workers if p.pid is not None]

    def _call(self, msgs: Sequence[tuple[str, tuple[Any, ...]]]) -> list[Any]:
        dead = [f"client {k} exit code {p.exitcode}" for k, p in enumerate(self.workers) if not p.is_alive()]
        if dead:
            raise ClientError("; ".join(dead))
        for pipe, msg in zip(self.pipes, msgs):
            pipe.send(msg)
        out = []
        for k, pipe in enumerate(self.pipes):
            status, value = pipe.recv()
            if status != "ok":
                raise ClientError(f"client {k}: {value}")
            out.append(value)
        return out

    async def call(self, msgs: Sequence[tuple[str, tuple[Any, ...]]]) -> list[Any]:
        # Pipes block; a thread keeps the parent's event loop (and its POSTs) free.
        return await asyncio.to_thread(self._call, msgs)

    async def same(self, cmd: str, *args: Any) -> list[Any]:
        return await self.call([(cmd, args)] * self.procs)

    async def connect(
        self, host: str, port: int, path: str, headers: Sequence[dict[str, str]], concurrency: int = 128
    ) -> dict[str, Any]:
        """Opens len(headers) connections; connection i carries headers[i]."""
        parts: list[list[tuple[int, dict[str, str]]]] = [[] for _ in range(self.procs)]
        for i, h in enumerate(headers):
            parts[i % self.procs].append((i, h))
        res = await self.call([("connect", (host, port, path, part, concurrency)) for part in parts])
        errors: dict[str, int] = {}
        for r in res:
            for e, n in r["errors"].items():
                errors[e] = errors.get(e, 0) + n
        return {
            "ok": sum(r["ok"] for r in res),
            "failed": sum(r["failed"] for r in res),
            "errors": errors,
            "seconds": max(r["seconds"] for r in res),
        }

    async def expect(self, key: str, idxs: set[int] | range) -> None:
        parts: list[list[int]] = [[] for _ in range(self.procs)]
        for i in idxs:
            parts[i % self.procs].append(i)
        await self.call([("expect", (key, part)) for part in parts])

    async def wait(self, ids: list[int], key: str, timeout: float = 15.0) -> dict[int, dict[str, float]]:
        """Per alert id: got / want / extra summed over processes, and the
        latest intended arrival (monotonic seconds)."""
        res = await self.same("wait", ids, key, timeout)
        out: dict[int, dict[str, float]] = {}
        for aid in ids:
            got = sum(r[aid][0] for r in res)
            want = sum(r[aid][1] for r in res)
            extra = sum(r[aid][2] for r in res)
            out[aid] = {"got": got, "want": want, "extra": extra, "t_last": max(r[aid][3] for r in res)}
        return out

    async def cpu(self) -> list[float]:
        return list(await self.same("cpu"))

    async def status(self) -> dict[str, Any]:
        res = await self.same("status")
        closes: dict[int, int] = {}
        for r in res:
            for c, n in r["closes"].items():
                closes[c] = closes.get(c, 0) + n
        return {"open": sum(r["open"] for r in res), "lost": sum(r["lost"] for r in res), "closes": closes}

    async def close_all(self) -> dict[str, Any]:
        res = await self.same("close")
        return {"lost": sum(r["lost"] for r in res), "frames": sum(r["frames"] for r in res)}

    def stop(self) -> None:
        for pipe in self.pipes:
            try:
                pipe.send(("exit", ()))
            except OSError:
                pass
        for p in self.workers:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
                p.join(timeout=2)
