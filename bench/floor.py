"""The floor: the least work a Python server can do to fan out one alert.

A raw asyncio Protocol does the WebSocket handshake by hand and keeps the
open transports in a set; `POST /api/alerts` (same route and body as ours,
so the bench drives it the same way) builds ONE text frame and hands the
same bytes to transport.write() of every connection, then answers 201. No
audience, no store, no bus: every connection gets every alert.

    python -m bench.floor --port 8765 [--loop asyncio|uvloop]"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import signal
import sys

import orjson

from bench.common import raise_fd_limit
from bench.wsproto import OP_CLOSE, accept_key, alert_payload, parse_frames, server_frame


class FloorServer:
    def __init__(self) -> None:
        self.conns: set[asyncio.Transport] = set()
        self.ids = itertools.count(1)
        self.written = 0

    def fire(self, sector: str | None) -> tuple[int, int]:
        aid = next(self.ids)
        frame = server_frame(alert_payload(aid, sector))
        n = 0
        for t in self.conns:
            t.write(frame)
            n += 1
        self.written += n
        return aid, n


class FloorProtocol(asyncio.Protocol):
    def __init__(self, server: FloorServer) -> None:
        self.server = server
        self.buf = bytearray()
        self.ws = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.server.conns.discard(self.transport)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.ws:
            for op, payload in parse_frames(self.buf):
                if op == OP_CLOSE:
                    self.transport.write(server_frame(payload[:2], OP_CLOSE))  # type: ignore[union-attr]
                    self.transport.close()  # type: ignore[union-attr]
            return
        while not self.ws:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
            size = int(headers.get("content-length", "0"))
            if len(self.buf) < end + 4 + size:
                return
            body = bytes(self.buf[end + 4 : end + 4 + size])
            del self.buf[: end + 4 + size]
            method, path = lines[0].split(" ")[:2]
            if headers.get("upgrade", "").lower() == "websocket":
                self._upgrade(headers["sec-websocket-key"].encode())
            else:
                self._http(method, path, body)

    def _upgrade(self, key: bytes) -> None:
        t = self.transport
        assert t is not None
        t.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept_key(key) + b"\r\n\r\n"
        )
        self.ws = True
        self.server.conns.add(t)

    def _http(self, method: str, path: str, body: bytes) -> None:
        if method == "POST" and path == "/api/alerts":
            # no audience here; a sector name keeps the frame the size of ours
            sector = (orjson.loads(body) if body else {}).get("sector", "est")
            aid, n = self.server.fire(sector)
            self._respond(201, {"id": aid, "recipients": n})
        elif path == "/healthz":
            self._respond(200, {"status": "ok", "connections": len(self.server.conns)})
        else:
            self._respond(404, {"error": {"code": "not_found", "message": path}})

    def _respond(self, status: int, doc: object) -> None:
        body = orjson.dumps(doc)
        head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        self.transport.write(head.encode() + body)  # type: ignore[union-attr]


async def serve(
    host: str, port: int, ready: asyncio.Future[int] | None = None, stop: asyncio.Event | None = None
) -> FloorServer:
    """Runs until `stop` is set (or forever). In-process use is for tests."""
    loop = asyncio.get_running_loop()
    state = FloorServer()
    server = await loop.create_server(lambda: FloorProtocol(state), host, port, backlog=4096)
    bound = server.sockets[0].getsockname()[1]
    if ready is not None:
        ready.set_result(bound)
    stop = stop or asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (RuntimeError, ValueError):  # not the main thread (tests)
            pass
    await stop.wait()
    server.close()
    for t in list(state.conns):
        t.abort()
    return state


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.floor")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    args = ap.parse_args()
    raise_fd_limit()
    if args.loop == "uvloop":
        import uvloop

        uvloop.install()
    print(f"floor on {args.host}:{args.port} ({args.loop})", file=sys.stderr, flush=True)
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
