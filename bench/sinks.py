"""`python -m bench.sinks --http-port P --smtp-port Q`: what bench.notify
sends to, in a process of its own (so that neither the server under test nor
the naive sender shares its interpreter): an SMTP server (aiosmtpd), and
one HTTP/1.1 server taking both the SMS gateway's POST /sms and the push
service's POST /push/<subscription>.

It counts, it does not check: each message is kept by its key (the SMS `id`,
the e-mail's Message-ID, the push endpoint's path) so that GET /stats
answers how many distinct messages and how many requests arrived per
channel; POST /reset forgets them. Each answer comes `--latency-ms` after
its request (default 0), without holding up the others: the time a relay or
gateway across the Internet takes to answer. Push bodies are not decrypted here (the
tests' stand-in does that, tests/notify_standins.py): the bench measures the
sender, and RFC 8291 decryption would make the sink the bottleneck."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from typing import Any

from aiosmtpd.smtp import SMTP

MESSAGE_ID = re.compile(rb"^message-id:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


class Counts:
    def __init__(self) -> None:
        self.keys: dict[str, set[str]] = {"email": set(), "sms": set(), "push": set()}
        self.requests = dict.fromkeys(self.keys, 0)

    def add(self, channel: str, key: str) -> None:
        self.keys[channel].add(key)
        self.requests[channel] += 1

    def stats(self) -> dict[str, Any]:
        return {c: {"messages": len(k), "requests": self.requests[c]} for c, k in self.keys.items()}

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]


class MailHandler:
    def __init__(self, counts: Counts, latency_s: float) -> None:
        self.counts = counts
        self.latency_s = latency_s

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        found = MESSAGE_ID.search(envelope.original_content or envelope.content)
        self.counts.add("email", found.group(1).decode() if found else "")
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        return "250 OK"


def _answer(status: str, body: bytes = b"") -> bytes:
    return f"HTTP/1.1 {status}\r\ncontent-length: {len(body)}\r\n\r\n".encode() + body


async def _http(counts: Counts, latency_s: float, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Keep-alive HTTP/1.1, Content-Length bodies only (what httpx, requests
    and the bench send)."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)}
            body = await reader.readexactly(int(headers.get("content-length") or 0))
            if method == "POST" and path == "/sms":
                counts.add("sms", json.loads(body)["id"])
                out = _answer("202 Accepted", b"{}")
            elif method == "POST" and path.startswith("/push/"):
                counts.add("push", path)
                out = _answer("201 Created")
            elif path == "/stats":
                out = _answer("200 OK", json.dumps(counts.stats()).encode())
            elif path == "/reset":
                counts.reset()
                out = _answer("204 No Content")
            else:
                out = _answer("404 Not Found")
            if latency_s and path.startswith(("/sms", "/push/")):
                await asyncio.sleep(latency_s)
            writer.write(out)
            await writer.drain()
            if headers.get("connection", "").lower() == "close":
                break
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def serve(http_port: int, smtp_port: int, latency_s: float) -> None:
    counts = Counts()
    loop = asyncio.get_running_loop()
    handler = MailHandler(counts, latency_s)
    smtp = await loop.create_server(lambda: SMTP(handler, hostname="sink"), "127.0.0.1", smtp_port, backlog=1024)
    http = await asyncio.start_server(lambda r, w: _http(counts, latency_s, r, w), "127.0.0.1", http_port, backlog=1024)
    async with smtp, http:
        await asyncio.gather(smtp.serve_forever(), http.serve_forever())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.sinks", description=__doc__)
    ap.add_argument("--http-port", type=int, required=True)
    ap.add_argument("--smtp-port", type=int, required=True)
    ap.add_argument("--latency-ms", type=float, default=0.0)
    a = ap.parse_args(argv)
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(a.http_port, a.smtp_port, a.latency_ms / 1000))
    else:
        uvloop.run(serve(a.http_port, a.smtp_port, a.latency_ms / 1000))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
