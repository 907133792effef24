"""The naive baseline: what a first Starlette version of the feature looks like.

A plain list of connections; each alert scans every one of them with a
haversine test (or same home sector), and calls json.dumps and send_text
per recipient, inside the POST handler. Run by uvicorn in its own process.
Homes come from a JSON file {token: [lat, lon, sector]} written by the bench.

uvicorn runs with its defaults, as a first version would: `--ws auto`, which
in uvicorn 0.54 is websockets-sansio, its fastest WebSocket protocol
(docs/architecture.md: ~45k vs ~32k frames/s for the legacy one) and the one ours
builds on; so the baseline differs from ours in its application code, not its
socket library. Our light clients offer no permessage-deflate, so none is used.

    python -m bench.naive --port 8766 --homes homes.json [--ws websockets]"""

from __future__ import annotations

import argparse
import itertools
import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from bench.common import raise_fd_limit
from bench.wsproto import alert_message
from geo import DEMO_CITY_PATH, haversine_m, load_city


def create_app(homes: dict[str, list[Any]], radius_m: float) -> Starlette:
    city = load_city(DEMO_CITY_PATH)
    conns: list[tuple[WebSocket, float, float, str | None]] = []
    ids = itertools.count(1)

    async def resident(ws: WebSocket) -> None:
        auth = ws.headers.get("authorization", "")
        home = homes.get(auth[7:]) if auth.lower().startswith("bearer ") else None
        if home is None:
            await ws.close(4401)
            return
        await ws.accept()
        entry = (ws, float(home[0]), float(home[1]), home[2])
        conns.append(entry)
        try:
            while (await ws.receive())["type"] != "websocket.disconnect":
                pass
        except WebSocketDisconnect:
            pass
        finally:
            conns.remove(entry)

    async def post_alert(request: Request) -> JSONResponse:
        body = await request.json()
        lat, lon = float(body["lat"]), float(body["lon"])
        sector = city.sector_of(lat, lon)
        aid = next(ids)
        msg = alert_message(aid, sector)
        sent = 0
        for ws, hlat, hlon, hsector in list(conns):
            if hsector == sector or haversine_m(lat, lon, hlat, hlon) <= radius_m:
                try:
                    await ws.send_text(json.dumps(msg))
                    sent += 1
                except Exception:  # gone meanwhile
                    pass
        return JSONResponse({"id": aid, "sector": sector, "recipients": sent}, status_code=201)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "connections": len(conns)})

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/api/alerts", post_alert, methods=["POST"]),
            WebSocketRoute("/ws/resident", resident),
        ]
    )


def main() -> None:
    import uvicorn

    ap = argparse.ArgumentParser(prog="python -m bench.naive")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--homes", required=True)
    ap.add_argument("--radius-m", type=float, default=500.0)
    ap.add_argument("--ws", default="auto", help="uvicorn --ws: auto (its default), websockets-sansio, ...")
    args = ap.parse_args()
    raise_fd_limit()
    with open(args.homes) as f:
        homes = json.load(f)
    uvicorn.run(
        create_app(homes, args.radius_m),
        host=args.host,
        port=args.port,
        ws=args.ws,
        log_level="warning",
        access_log=False,
        backlog=4096,
        lifespan="off",
    )


if __name__ == "__main__":
    main()
