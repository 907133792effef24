"""The bare baseline of the reconnect storm: uvicorn + websockets and nothing else.

A raw ASGI app (no framework, no routing, no authentication, no replay):
every WebSocket is accepted and held until it closes; GET /healthz answers
200. uvicorn runs with its WebSocket default (`--ws auto`: websockets-sansio
in uvicorn 0.54, the protocol ours builds on) and the same listen backlog
as `dispatch serve`, so what separates the two in a storm is the work ours
does per handshake (session, Origin, channel join, replay), not the socket
library or the kernel queue.

    python -m bench.bare --port 8767 [--ws websockets] [--backlog 4096]"""

from __future__ import annotations

import argparse
from typing import Any

from bench.common import raise_fd_limit

Scope = dict[str, Any]


async def app(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        while (await receive())["type"] != "websocket.disconnect":
            pass
    elif scope["type"] == "http":
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"2")],
            }
        )
        await send({"type": "http.response.body", "body": b"ok"})


def main() -> None:
    import uvicorn

    ap = argparse.ArgumentParser(prog="python -m bench.bare")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ws", default="auto")
    ap.add_argument("--backlog", type=int, default=4096, help="dispatch serve's (dispatch/cli/serve.py)")
    args = ap.parse_args()
    raise_fd_limit()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        ws=args.ws,
        ws_per_message_deflate=False,  # as ours; the light clients offer none anyway
        log_level="warning",
        access_log=False,
        backlog=args.backlog,
        lifespan="off",
    )


if __name__ == "__main__":
    main()
