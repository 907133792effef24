"""Light WebSocket load client: one process owns a slice of the connections.

Per frame it does one read callback, finds the frame boundary, regex-scans
~250 bytes for the alert id and appends (connection, time) to a list; no
JSON decoding, no per-connection task. Times are time.monotonic(), i.e.
CLOCK_MONOTONIC, which every process on the machine shares, so the parent
can subtract its own "just before the POST" stamp from them.

Commands arrive on a multiprocessing Pipe (see bench.clients.ClientPool)."""

from __future__ import annotations

import asyncio
import os
import resource
import socket
import time
from collections import Counter
from multiprocessing.connection import Connection
from typing import Any

from bench.common import raise_fd_limit
from bench.wsproto import ALERT_ID, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, client_frame, client_handshake, parse_frames

# Linux: take the source port at connect() time, not bind() time, so many
# sockets bound to one source address can share ports across destinations.
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)
POLL_S = 0.002


class Recorder:
    def __init__(self) -> None:
        self.arrivals: dict[int, list[tuple[int, float]]] = {}
        self.closes: Counter[int] = Counter()
        self.lost = 0
        self.frames = 0


class WSConn(asyncio.Protocol):
    def __init__(self, idx: int, rec: Recorder, request: bytes, ready: asyncio.Future[bool]) -> None:
        self.idx = idx
        self.rec = rec
        self.request = request
        self.ready = ready
        self.buf = bytearray()
        self.open = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self.request)  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.open:
            self.rec.lost += 1
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed during handshake"))

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        if not self.open:
            self.buf += data
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end])
            del self.buf[: end + 4]
            if not head.startswith(b"HTTP/1.1 101"):
                if not self.ready.done():
                    self.ready.set_exception(ConnectionError(head.split(b"\r\n", 1)[0].decode(errors="replace")))
                self.transport.close()  # type: ignore[union-attr]
                return
            self.open = True
            self.ready.set_result(True)
            data = b""
        if not self.buf and len(data) >= 2:
            # fast path: exactly one whole frame in this read (the usual case)
            n, hl = data[1], 2
            if n == 126:
                n, hl = ((data[2] << 8) | data[3], 4) if len(data) >= 4 else (0, 0)
            elif n > 126:
                hl = 0
            if hl and len(data) == hl + n:
                self._frame(data[0] & 0x0F, data[hl:], now)
                return
        self.buf += data
        for op, payload in parse_frames(self.buf):
            self._frame(op, payload, now)

    def _frame(self, op: int, payload: bytes, now: float) -> None:
        rec = self.rec
        if op == OP_TEXT:
            rec.frames += 1
            m = ALERT_ID.search(payload)
            if m is not None:
                aid = int(m.group(1))
                lst = rec.arrivals.get(aid)
                if lst is None:
                    lst = rec.arrivals[aid] = []
                lst.append((self.idx, now))
        elif op == OP_PING:
            self.transport.write(client_frame(payload, OP_PONG))  # type: ignore[union-attr]
        elif op == OP_CLOSE:
            code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            rec.closes[code] += 1
            self.transport.write(client_frame(payload[:2], OP_CLOSE))  # type: ignore[union-attr]
            self.transport.close()  # type: ignore[union-attr]


def cpu_now() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


class Client:
    def __init__(self, src: str) -> None:
        self.src = src
        self.rec = Recorder()
        self.conns: list[WSConn] = []
        self.expect: dict[str, set[int]] = {}

    def protocol(self, idx: int, request: bytes, ready: asyncio.Future[bool]) -> WSConn:
        """The protocol of one connection (bench/storm_client.py adds to it)."""
        return WSConn(idx, self.rec, request, ready)

    async def _open(self, host: str, port: int, path: str, idx: int, headers: dict[str, str], timeout: float) -> WSConn:
        loop = asyncio.get_running_loop()
        request, _ = client_handshake(host, port, path, headers)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            if self.src != "127.0.0.1":
                sock.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
                sock.bind((self.src, 0))
            await asyncio.wait_for(loop.sock_connect(sock, (host, port)), timeout)
        except BaseException:
            sock.close()
            raise
        ready: asyncio.Future[bool] = loop.create_future()
        _, proto = await loop.create_connection(lambda: self.protocol(idx, request, ready), sock=sock)
        try:
            await asyncio.wait_for(ready, timeout)
        except BaseException:
            if proto.transport is not None:
                proto.transport.abort()
            raise
        return proto

    async def connect(
        self,
        host: str,
        port: int,
        path: str,
        conns: list[tuple[int, dict[str, str]]],
        concurrency: int = 128,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        # Bounded concurrency: a burst of thousands of SYNs overflows the
        # listen backlog and turns into 1 s / 3 s SYN retransmits.
        t0 = time.monotonic()
        sem = asyncio.Semaphore(concurrency)
        errors: Counter[str] = Counter()

        async def one(idx: int, headers: dict[str, str]) -> None:
            async with sem:
                try:
                    self.conns.append(await self._open(host, port, path, idx, headers, timeout))
                except Exception as exc:  # reported, not raised: the parent decides
                    errors[f"{type(exc).__name__}: {exc}"[:120]] += 1

        await asyncio.gather(*(one(i, h) for i, h in conns))
        return {
            "ok": len(self.conns),
            "failed": sum(errors.values()),
            "errors": dict(errors.most_common(3)),
            "seconds": time.monotonic() - t0,
        }

    async def wait(self, ids: list[int], key: str, timeout: float) -> dict[int, tuple[int, int, int, float]]:
        """For each alert id: (intended received, intended, unintended received,
        last intended arrival time). Returns when every intended connection
        has it or at the deadline; consumes the arrivals of those ids."""
        want = self.expect.get(key, set())
        deadline = time.monotonic() + timeout
        arrivals = self.rec.arrivals

        def complete(aid: int) -> bool:
            got = arrivals.get(aid, ())
            # cheap length test first; the exact count only once it could be complete
            return len(got) >= len(want) and len({i for i, _ in got if i in want}) == len(want)

        pending = list(ids)
        while pending and time.monotonic() < deadline:
            pending = [a for a in pending if not complete(a)]
            if pending:
                await asyncio.sleep(POLL_S)
        out: dict[int, tuple[int, int, int, float]] = {}
        for aid in ids:
            got: set[int] = set()
            extra = 0
            last = 0.0
            for idx, t in arrivals.pop(aid, ()):
                if idx in want and idx not in got:
                    got.add(idx)
                    last = max(last, t)
                else:
                    extra += 1
            out[aid] = (len(got), len(want), extra, last)
        return out

    async def close(self) -> dict[str, Any]:
        for c in self.conns:
            c.open = False  # closed by us: not a loss
            if c.transport is not None:
                c.transport.close()
        self.conns.clear()
        await asyncio.sleep(0.2)
        status = {"lost": self.rec.lost, "closes": dict(self.rec.closes), "frames": self.rec.frames}
        self.rec = Recorder()
        return status

    async def handle(self, cmd: str, args: tuple[Any, ...]) -> Any:
        if cmd == "connect":
            return await self.connect(*args)
        if cmd == "expect":
            key, idxs = args
            self.expect[key] = set(idxs)
            return len(self.expect[key])
        if cmd == "wait":
            return await self.wait(*args)
        if cmd == "cpu":
            return cpu_now()
        if cmd == "status":
            return {
                "open": len(self.conns),
                "lost": self.rec.lost,
                "closes": dict(self.rec.closes),
                "frames": self.rec.frames,
            }
        if cmd == "reset":
            self.rec.arrivals.clear()
            return True
        if cmd == "close":
            return await self.close()
        raise ValueError(f"unknown command {cmd!r}")


async def _serve(pipe: Connection, src: str, make: type[Client] = Client) -> None:
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[Any] = asyncio.Queue()

    def readable() -> None:
        try:
            # uvloop makes watched fds non-blocking; a command bigger than the
            # pipe buffer (a slice of 5k tokens) must be read whole, so block.
            os.set_blocking(pipe.fileno(), True)
            inbox.put_nowait(pipe.recv())
        except (EOFError, OSError):  # the parent is gone: stop, do not spin
            loop.remove_reader(pipe.fileno())
            inbox.put_nowait(("exit", ()))

    loop.add_reader(pipe.fileno(), readable)
    client = make(src)
    while True:
        cmd, args = await inbox.get()
        if cmd == "exit":
            await client.close()
            return
        try:
            pipe.send(("ok", await client.handle(cmd, args)))
        except Exception as exc:
            pipe.send(("error", f"{type(exc).__name__}: {exc}"))


def main(pipe: Connection, src: str, make: type[Client] = Client) -> None:
    """Entry point of a client process (multiprocessing spawn target);
    `make`: a Client subclass (bench/storm_client.py)."""
    raise_fd_limit()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_serve(pipe, src, make))
