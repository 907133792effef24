"""The socket side of the hot path.

Measured on these machines (docs/architecture.md): an ASGI `send_text` per
connection costs about half of a raw `transport.write` per frame (45k vs
85-95k frames/s on one core), so a per-connection send loop cannot reach the
0.6 x floor target. We keep uvicorn's sans-I/O protocol for the handshake,
pings and close, and add one ASGI extension that gives our endpoint the
protocol object, so the hub can write one prebuilt frame to many transports.
permessage-deflate is off on purpose (dispatch.cli.serve): alert frames are a
few hundred bytes, and a deflate context costs tens of KiB per connection."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from dispatch.core.codec import Frame, Item, Payload, close_frame

RAW_EXTENSION = "dispatch.raw_frames"

# Close code for a connection that fell further behind than the send bound
# (stream.send_queue_bytes). The client reconnects with ?since=SEQ.
CLOSE_TOO_SLOW = 4008


# Retry-After of a handshake refused because this worker is stopping: a
# worker restart takes 1-3 s here (tests/test_sigterm_e2e.py prints it).
RESTART_RETRY_AFTER_S = 5


# Kernel send buffer of an upgraded socket. Linux autotunes it up to
# tcp_wmem's max (4 MiB here) for a reader that stalls, which would hide a
# laggard from the send bound for minutes and cost up to 4 MiB of kernel
# memory per socket; alert frames are a few hundred bytes. (Linux doubles
# the value for bookkeeping.)
SOCKET_SNDBUF = 64 * 1024

# A replay writes a backlog as fast as the store reads it, so it reaches the
# send bound by design: it then waits for the client to read (polling the
# queue's size, which asyncio gives no event for below its own high-water
# mark) and gives up, as too slow, after this long without any progress.
# Found by bench/chaos.py: a replay that stopped at the bound went live past
# the events it had not sent, and the client lost them.
DRAIN_POLL_S = 0.01
DRAIN_STALL_S = 10.0


async def _drain_to(size: Callable[[], int], gone: Callable[[], bool], limit: int) -> bool:
    """Waits until size() <= limit; False when gone() or stalled."""
    loop = asyncio.get_running_loop()
    last, since = size(), loop.time()
    while (now := size()) > limit:
        if gone():
            return False
        if now < last:
            last, since = now, loop.time()
        elif loop.time() - since > DRAIN_STALL_S:
            return False
        await asyncio.sleep(DRAIN_POLL_S)
    return not gone()


class FastWSProtocol(WebSocketsSansIOProtocol):
    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_SNDBUF)
            except OSError:
                pass

    async def send(self, message: Any) -> None:
        await super().send(message)
        # uvicorn 0.54's sans-I/O protocol leaves handshake_complete False
        # after a complete denial response (401/403/429 with our error body),
        # then logs "ASGI callable returned without completing handshake." as
        # an ERROR: a refused handshake is no error (tests/test_logs_e2e.py)
        if message["type"] == "websocket.http.response.body" and not message.get("more_body", False):
            self.handshake_complete = True

    def shutdown(self) -> None:
        """uvicorn's graceful shutdown (SIGTERM) calls this on every socket
        at once, before it waits for the requests in flight: an open one
        gets 1012 (Service Restart, RFC 6455 7.4.1) from the sans-I/O base.
        A handshake the endpoint is still answering gets 503 with
        Retry-After instead of the base's 500: the client is to come back,
        as after a 1012, and a 5xx would be a bug."""
        if self.handshake_complete or self.close_sent or self.initial_response is not None:
            super().shutdown()
            return
        self.stop_keepalive()
        response = self.conn.reject(503, "the server is restarting: retry\n")
        response.headers["Retry-After"] = str(RESTART_RETRY_AFTER_S)
        self.conn.send_response(response)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.transport.close()

    def handle_parser_exception(self) -> None:
        """A frame refused (over ws_max_size: 1009; a text frame that is not
        UTF-8: 1007): send the close as uvicorn does, but keep reading until
        the client answers it (or close_timeout). uvicorn closes the socket
        at once: while the client is still sending the rest of a large
        frame, the kernel then answers RST and the client never reads the
        code (RFC 6455 7.1.1: the peer that sent a close waits for one)."""
        assert self.conn.close_sent is not None
        sent = self.conn.close_sent
        self.queue.put_nowait({"type": "websocket.disconnect", "code": sent.code, "reason": sent.reason})
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.close_timer = asyncio.get_running_loop().call_later(self.close_timeout, self.transport.close)

    def data_received(self, data: bytes) -> None:
        if self.conn.parser_exc is not None:
            return  # past a refused frame: drop what follows until the client closes
        super().data_received(data)

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        if self.response.status_code == 101:
            extensions: dict[str, object] = self.scope["extensions"]  # type: ignore[assignment]
            extensions[RAW_EXTENSION] = self


class RawSink:
    """Writes prebuilt frames straight to the transport. The transport's own
    buffer is the per-connection queue; `limit` bounds it."""

    __slots__ = ("limit", "proto", "transport")

    def __init__(self, proto: WebSocketsSansIOProtocol, limit: int) -> None:
        self.proto = proto
        self.transport: asyncio.Transport = proto.transport
        self.limit = limit

    def write(self, frame: Frame, payload: Payload) -> bool:
        """False when the connection is gone or past the bound."""
        transport = self.transport
        if self.proto.close_sent or transport.is_closing():
            return False
        transport.write(frame)
        return transport.get_write_buffer_size() <= self.limit

    def write_many(self, items: list[Item]) -> bool:
        """Several frames in one write (one syscall, one segment)."""
        transport = self.transport
        if self.proto.close_sent or transport.is_closing():
            return False
        transport.write(items[0][0] if len(items) == 1 else b"".join([frame for frame, _ in items]))
        return transport.get_write_buffer_size() <= self.limit

    def gone(self) -> bool:
        """Closed or closing (a 1012 at shutdown, a ping timeout, the client)."""
        return self.proto.close_sent or self.transport.is_closing()

    async def drained(self) -> bool:
        """For a replay: True once the client has read the queue down to half
        the bound; False if it is gone or stopped reading."""
        return await _drain_to(self.transport.get_write_buffer_size, self.gone, self.limit // 2)

    def close_slow(self) -> None:
        self.close(CLOSE_TOO_SLOW, "too slow: reconnect with since")

    def close(self, code: int, reason: str) -> None:
        proto, transport = self.proto, self.transport
        if proto.close_sent or transport.is_closing():
            return
        proto.close_sent = True
        # Queued behind what the client has not read; if it never reads,
        # abort rather than hold the buffer.
        transport.write(close_frame(code, reason))
        transport.close()
        proto.loop.call_later(5.0, transport.abort)


class AsgiSink:
    """Fallback under another ASGI server: a bounded queue drained by one
    task per connection through the standard `websocket.send`."""

    def __init__(self, send: Any, limit: int) -> None:
        self._send = send
        self.limit = limit
        self._queue: list[Payload] = []
        self._size = 0
        self._wake = asyncio.Event()
        self._closed = False
        self._task = asyncio.get_running_loop().create_task(self._drain())

    def write(self, frame: Frame, payload: Payload) -> bool:
        if self._closed:
            return False
        self._queue.append(payload)
        self._size += len(payload)
        self._wake.set()
        return self._size <= self.limit

    def write_many(self, items: list[Item]) -> bool:
        ok = True
        for frame, payload in items:
            ok = self.write(frame, payload)
        return ok

    def gone(self) -> bool:
        return self._closed

    async def drained(self) -> bool:
        return await _drain_to(lambda: self._size, self.gone, self.limit // 2)

    def close_slow(self) -> None:
        self.close(CLOSE_TOO_SLOW, "too slow")

    def close(self, code: int, reason: str) -> None:
        self._closed = True
        self._queue.clear()
        self._task.cancel()
        asyncio.get_running_loop().create_task(self._send({"type": "websocket.close", "code": code, "reason": reason}))

    def stop(self) -> None:
        self._closed = True
        self._task.cancel()

    async def _drain(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                batch, self._queue, self._size = self._queue, [], 0
                for payload in batch:
                    await self._send({"type": "websocket.send", "text": payload.decode()})
        except asyncio.CancelledError:
            pass
        except Exception:
            self._closed = True
