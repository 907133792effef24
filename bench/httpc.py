"""A minimal HTTP/1.1 keep-alive client on asyncio streams.

httpx costs ~10x more CPU per request than this; in the ingest bench the
load generator must stay far below the server's cost per request."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson


class HttpConn:
    def __init__(self, host: str, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.host, self.port = host, port
        self.reader, self.writer = reader, writer
        self.last_head = b""  # the latest response's status line and headers (Retry-After, for one)

    @classmethod
    async def open(cls, host: str, port: int, timeout: float = 10.0) -> HttpConn:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        return cls(host, port, reader, writer)

    def send(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        """Writes a request; read its answer with read_response()."""
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{extra}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)

    async def read_response(self) -> tuple[int, bytes]:
        head = self.last_head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        size = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                size = int(line[15:])
                break
        else:
            if b"chunked" in head.lower():
                raise ValueError("chunked responses are not supported by this client")
        body = await self.reader.readexactly(size) if size else b""
        return status, body

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None, timeout: float = 30.0
    ) -> tuple[int, bytes]:
        self.send(method, path, body, headers)
        return await asyncio.wait_for(self.read_response(), timeout)

    async def json(
        self, method: str, path: str, doc: Any = None, headers: dict[str, str] | None = None, timeout: float = 30.0
    ) -> tuple[int, Any]:
        status, body = await self.request(method, path, orjson.dumps(doc) if doc is not None else b"", headers, timeout)
        return status, (orjson.loads(body) if body else None)

    def close(self) -> None:
        self.writer.close()


async def healthy(host: str, port: int) -> bool:
    try:
        conn = await HttpConn.open(host, port, timeout=1.0)
    except OSError:
        return False
    except TimeoutError:
        return False
    try:
        status, _ = await conn.request("GET", "/healthz", timeout=5.0)
        return status == 200
    except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
        return False
    finally:
        conn.close()
