"""Stream clients that resume: each holds one /ws/ops or /ws/resident
socket, records every alert id it receives (`alert.created` on ops,
`alert.nearby` on residents) and, on any close or refused handshake,
reconnects with `?since=<last seq>` after a short jittered pause, as
docs/reference.md ("Resume and resync") tells a client to.

A full `websockets` client is fine here: the bench runs tens of clients at a
few alerts a second; what it measures is correctness, not throughput.

`python -m bench.chaos_listen` runs some of them in a process of its own and
appends what they see to a JSON-lines file, so the bench can SIGSTOP that
process: its sockets stop being read, as a phone's would."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

ALERT_TYPES = {"ops": "alert.created", "resident": "alert.nearby"}


@dataclass
class Tally:
    """What one client saw; the same shape whether it ran here or in the
    child process (then rebuilt from its file by `ChildTallies`)."""

    name: str
    kind: str  # "ops" or "resident"
    user_id: int
    since: int
    received: Counter[int] = field(default_factory=Counter)
    first_at: dict[int, float] = field(default_factory=dict)
    closes: Counter[str] = field(default_factory=Counter)
    refused: Counter[int] = field(default_factory=Counter)  # handshake statuses other than 101
    resyncs: int = 0
    connects: int = 0

    def got(self, aid: int, now: float) -> None:
        self.received[aid] += 1
        self.first_at.setdefault(aid, now)


class Listener:
    def __init__(self, host: str, port: int, token: str, tally: Tally, rcvbuf: int | None = None) -> None:
        self.url = f"ws://{host}:{port}/ws/{tally.kind}"
        self.addr = (host, port)
        self.headers = {"Authorization": f"Bearer {token}"}
        self.tally = tally
        self.rcvbuf = rcvbuf
        self.on_event: Any = None  # callable(kind, **fields) for the child's file
        self._alert_type = ALERT_TYPES[tally.kind]

    async def _socket(self) -> socket.socket | None:
        if self.rcvbuf is None:
            return None
        # A small receive buffer, set before connect so the window never
        # grows: a stopped reader then backs up into the server's queue
        # within seconds instead of after the kernel's megabytes.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, self.addr)
        return sock

    async def run(self) -> None:
        t = self.tally
        while True:
            reason = "error"
            try:
                sock = await self._socket()
                async with connect(
                    f"{self.url}?since={t.since}",
                    additional_headers=self.headers,
                    compression=None,
                    open_timeout=10,
                    sock=sock,
                ) as ws:
                    t.connects += 1
                    self._emit("connect")
                    async for raw in ws:
                        self._message(orjson.loads(raw))
                    code = ws.close_code
                    reason = str(code) if code is not None else "no-close-frame"
            except asyncio.CancelledError:
                raise
            except InvalidStatus as exc:
                status = exc.response.status_code
                t.refused[status] += 1
                self._emit("refused", status=status)
                reason = f"refused-{status}"
            except ConnectionClosed as exc:
                reason = str(exc.rcvd.code) if exc.rcvd is not None else "no-close-frame"
            except (OSError, WebSocketException, TimeoutError) as exc:
                reason = type(exc).__name__
            t.closes[reason] += 1
            self._emit("close", reason=reason)
            # Full jitter (AWS architecture blog, "Exponential Backoff And
            # Jitter"): clients of a dead worker do not all come back at once.
            await asyncio.sleep(random.uniform(0.05, 0.5))

    def _message(self, msg: dict[str, Any]) -> None:
        t = self.tally
        kind, seq = msg.get("type"), msg.get("seq")
        if kind == "resync":
            t.resyncs += 1
            self._emit("resync")
        if isinstance(seq, int) and seq > t.since:
            t.since = seq
        if kind == self._alert_type:
            aid = int(msg["data"]["id"])
            now = time.monotonic()
            t.got(aid, now)
            self._emit("alert", id=aid, seq=seq, t=now)

    def _emit(self, kind: str, **fields: Any) -> None:
        if self.on_event is not None:
            self.on_event(kind, fields)


class ChildTallies:
    """The child process's tallies, rebuilt from its JSON-lines file."""

    def __init__(self, path: str, tallies: list[Tally]) -> None:
        self.path = path
        self.by_name = {t.name: t for t in tallies}
        self._offset = 0

    def refresh(self) -> None:
        with open(self.path, "rb") as f:
            f.seek(self._offset)
            data = f.read()
        end = data.rfind(b"\n") + 1  # a line being written stays for next time
        self._offset += end
        for line in data[:end].splitlines():
            ev = orjson.loads(line)
            t = self.by_name[ev["c"]]
            if ev["k"] == "alert":
                t.got(ev["id"], ev["t"])
                t.since = max(t.since, ev["seq"])
            elif ev["k"] == "connect":
                t.connects += 1
            elif ev["k"] == "close":
                t.closes[ev["reason"]] += 1
            elif ev["k"] == "refused":
                t.refused[ev["status"]] += 1
            elif ev["k"] == "resync":
                t.resyncs += 1


async def _child(args: argparse.Namespace) -> None:
    specs = json.loads(args.clients)
    out = open(args.out, "ab", buffering=0)
    tasks = []
    for s in specs:
        tally = Tally(s["name"], s["kind"], s["user_id"], s["since"])
        lis = Listener(args.host, args.port, s["token"], tally, rcvbuf=args.rcvbuf)

        def emit(kind: str, fields: dict[str, Any], name: str = s["name"]) -> None:
            out.write(orjson.dumps({"c": name, "k": kind, **fields}) + b"\n")

        lis.on_event = emit
        tasks.append(asyncio.create_task(lis.run()))
    print("ready", flush=True)
    await asyncio.gather(*tasks)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="chaos bench: stream clients in a process of their own")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--clients", required=True, help="JSON list of {name, kind, user_id, token, since}")
    ap.add_argument("--out", required=True)
    ap.add_argument("--rcvbuf", type=int, default=4096)
    args = ap.parse_args(argv)
    try:
        asyncio.run(_child(args))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
