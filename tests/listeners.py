"""Real WebSocket clients that record everything they receive, and can be cut
off and come back with ?since=SEQ like the pages do."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
import websockets


class Listener:
    def __init__(self, ws_base: str, path: str, token: str) -> None:
        self.url = ws_base + path
        self.token = token
        self.messages: list[dict[str, Any]] = []
        self.closes: list[int | None] = []
        self._task: asyncio.Task[None] | None = None
        self._ws: Any = None
        self.connected = asyncio.Event()

    @property
    def last_seq(self) -> int:
        return max((m["seq"] for m in self.messages), default=0)

    async def start(self, since: int | None = None) -> None:
        url = self.url + (f"?since={since}" if since is not None else "")
        self.connected.clear()
        self._ws = await websockets.connect(
            url, additional_headers={"Authorization": f"Bearer {self.token}"}, open_timeout=20, max_queue=None
        )
        self.connected.set()
        self._task = asyncio.create_task(self._read(self._ws))

    async def _read(self, ws: Any) -> None:
        try:
            async for raw in ws:
                self.messages.append(orjson.loads(raw))
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closes.append(ws.close_code)

    async def cut(self) -> None:
        """Drop the connection (as a phone losing signal would)."""
        if self._ws is not None:
            self._ws.transport.abort()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def resume(self) -> None:
        await self.start(since=self.last_seq)

    async def stop(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    def received(self, *types: str) -> list[tuple[str, int]]:
        return [(m["type"], m["data"]["id"]) for m in self.messages if not types or m["type"] in types]


async def start_all(listeners: list[Listener], concurrency: int = 100) -> None:
    sem = asyncio.Semaphore(concurrency)

    async def one(listener: Listener) -> None:
        async with sem:
            await listener.start()

    await asyncio.gather(*(one(x) for x in listeners))


async def settle(listeners: list[Listener], quiet: float = 1.0, timeout: float = 30.0) -> None:
    """Wait until no listener has received anything for `quiet` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last = -1
    while loop.time() < deadline:
        total = sum(len(x.messages) for x in listeners)
        if total == last:
            return
        last = total
        await asyncio.sleep(quiet)
