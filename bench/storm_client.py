"""Client process of the reconnect storm: the light client (bench/client.py)
that also remembers each connection's last `seq` and times its handshake.

A storm re-opens every connection of the process at the same instant, with
no jitter and no concurrency bound (the worst case a restart can cause),
each with `?since=<its last seq>`. A connection's handshake time runs from
just before its connect() to the 101 arriving, CLOCK_MONOTONIC like every
other stamp of the benches."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from multiprocessing.connection import Connection
from typing import Any

from bench import client
from bench.client import Client, Recorder, WSConn
from bench.wsproto import OP_TEXT

# The envelope's seq comes before its data (core.codec.message: type, seq, data).
SEQ = re.compile(rb'"seq":\s*(\d+)')


class StormConn(WSConn):
    def __init__(
        self, owner: StormClient, idx: int, rec: Recorder, request: bytes, ready: asyncio.Future[bool]
    ) -> None:
        super().__init__(idx, rec, request, ready)
        self.owner = owner

    def data_received(self, data: bytes) -> None:
        was_open = self.open
        super().data_received(data)
        if self.open and not was_open:
            self.owner.opened[self.idx] = time.monotonic()

    def _frame(self, op: int, payload: bytes, now: float) -> None:
        if op == OP_TEXT:
            m = SEQ.search(payload)
            if m is not None:
                seq = int(m.group(1))
                if seq > self.owner.seqs.get(self.idx, 0):
                    self.owner.seqs[self.idx] = seq
        super()._frame(op, payload, now)


class StormClient(Client):
    def __init__(self, src: str) -> None:
        super().__init__(src)
        self.seqs: dict[int, int] = {}  # connection -> last seq received
        self.started: dict[int, float] = {}
        self.opened: dict[int, float] = {}
        self.storming = False

    def protocol(self, idx: int, request: bytes, ready: asyncio.Future[bool]) -> WSConn:
        return StormConn(self, idx, self.rec, request, ready)

    async def _open(self, host: str, port: int, path: str, idx: int, headers: dict[str, str], timeout: float) -> WSConn:
        if self.storming:
            seq = self.seqs.get(idx)
            path = f"{path}?since={seq}" if seq is not None else path
        self.started[idx] = time.monotonic()
        return await super()._open(host, port, path, idx, headers, timeout)

    async def storm(
        self, host: str, port: int, path: str, conns: list[tuple[int, dict[str, str]]], start_at: float, timeout: float
    ) -> dict[str, Any]:
        """Every connection at once at `start_at`; the old ones are gone (the
        server restarted), their seqs stay."""
        self.conns.clear()
        self.rec = Recorder()
        self.started.clear()
        self.opened.clear()
        self.storming = True
        try:
            await asyncio.sleep(max(0.0, start_at - time.monotonic()))
            res = await self.connect(host, port, path, conns, concurrency=max(1, len(conns)), timeout=timeout)
        finally:
            self.storming = False
        res["handshake_s"] = [self.opened[i] - self.started[i] for i in self.opened if i in self.started]
        res["last_open"] = max(self.opened.values(), default=0.0)
        res["without_since"] = sum(1 for i, _ in conns if i not in self.seqs)
        return res

    async def close(self) -> dict[str, Any]:
        # the next target starts from a fresh store: a seq of this one's would
        # be a `since` ahead of its head
        self.seqs.clear()
        return await super().close()

    async def handle(self, cmd: str, args: tuple[Any, ...]) -> Any:
        if cmd == "storm":
            return await self.storm(*args)
        if cmd == "seqs":
            return Counter(self.seqs.values()).most_common(3)
        return await super().handle(cmd, args)


def main(pipe: Connection, src: str) -> None:
    """Entry point of a storm client process (ClientPool target)."""
    client.main(pipe, src, StormClient)
