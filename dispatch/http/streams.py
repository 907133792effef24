"""/ws/ops and /ws/resident: authenticate at the handshake, replay from the
store after ?since=SEQ, then go live through the hub."""

from __future__ import annotations

import logging
from typing import Any

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from dispatch.core.codec import Item, message, text_frame
from dispatch.core.events import stream_message
from dispatch.core.model import OPS_VIEW_ROLES, RESIDENT_ROLES, Home, User
from dispatch.core.routing import OPS, home_channel
from dispatch.core.validation import RateLimited, whole_number
from dispatch.http.app_state import services
from dispatch.http.requests import JSON, NOT_VALIDATED
from dispatch.live.frames import RAW_EXTENSION, AsgiSink, RawSink
from dispatch.live.hub import Conn
from dispatch.usecases.sessions import credentials, origin_allowed, token_hash

log = logging.getLogger("dispatch.ws")

# Close codes when a server cannot answer the handshake with an HTTP status
# (we answer 401/403 with the contract's error body where the server allows).
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_RATE_LIMITED = 4429
_CLOSE_FOR = {401: CLOSE_UNAUTHENTICATED, 429: CLOSE_RATE_LIMITED}


async def _deny(ws: WebSocket, status: int, code: str, text: str, headers: dict[str, str] | None = None) -> None:
    if "websocket.http.response" in ws.scope.get("extensions", {}):
        body = {"error": {"code": code, "message": text}}
        await ws.send_denial_response(JSON(body, status_code=status, headers=headers))
    else:
        await ws.close(_CLOSE_FOR.get(status, CLOSE_FORBIDDEN), text)


async def _authorise(ws: WebSocket, roles: frozenset[str]) -> User | None:
    svc = services(ws)
    if not origin_allowed(ws.headers.get("origin"), svc.settings.browser_origins()):
        await _deny(ws, 403, "forbidden_origin", "this origin may not open the stream")
        return None
    token, _ = credentials(ws.headers, ws.cookies, svc.settings.session_cookie)
    user = await svc.sessions.user_for(token)
    if user is None:
        await _deny(ws, 401, "unauthenticated", "log in first: session cookie or Authorization: Bearer")
        return None
    if not user.validated:  # pending, rejected or suspended: GET /api/me only
        await _deny(ws, 403, "not_validated", NOT_VALIDATED[user.status])
        return None
    if user.role not in roles:
        await _deny(ws, 403, "forbidden", f"the {user.role} role cannot open this stream")
        return None
    return user


def _since(ws: WebSocket) -> int | None:
    raw = ws.query_params.get("since")
    if raw is None or raw == "":
        return None
    seq = whole_number(raw)
    return -1 if seq is None else seq


def _sink(ws: WebSocket, limit: int) -> Any:
    proto = ws.scope.get("extensions", {}).get(RAW_EXTENSION)
    return RawSink(proto, limit) if proto is not None else AsgiSink(ws.send, limit)


async def _replay(ws: WebSocket, conn: Conn, since: int | None, home: Home | None, head: int, store_head: int) -> None:
    """Send what the client missed after `since`, up to the channel's
    watermark `head`; everything above it arrives through conn.pending.
    `store_head`: the store's head, read before the handshake was accepted.
    The reads are shared with the replays running meanwhile (usecases.replay):
    after a restart most clients come back with the same `since`."""
    svc = services(ws)
    if since is None:
        conn.last_seq = head
        return
    oldest = store_head - svc.settings.stream_replay_max
    too_new = since > store_head
    if since < 0 or since < oldest or too_new:
        conn.last_seq = head
        reason = "too_old" if 0 <= since < oldest else "unknown_seq"
        payload = message("resync", head, {"reason": reason, "head": head})
        conn.sink.write(text_frame(payload), payload)
        return
    cursor = since
    while cursor < head:
        page = await svc.replays.page(cursor, head)
        if not page.events:
            break
        hidden = page.hidden if home is not None else frozenset()
        missed: list[Item] = []
        for ev in page.events:
            if ev.seq > head:
                break
            cursor = ev.seq
            msg = stream_message(ev.type, ev.seq, ev.data, home, svc.settings.alerts_radius_m, hidden)
            if msg is not None and ev.seq > conn.last_seq:
                conn.last_seq = ev.seq
                missed.append((text_frame(msg), msg))
                if len(missed) == REPLAY_WRITE and not await _flush(ws, conn, missed):
                    return
        if not await _flush(ws, conn, missed) or cursor < page.events[-1].seq:  # gone, too slow, or at the watermark
            return


# Frames per write while replaying: a storm replays a few frames to each of
# thousands of sockets, one syscall each; a long replay checks the send bound
# (stream.send_queue_bytes) at least this often, as the live path does per batch.
REPLAY_WRITE = 64


async def _flush(ws: WebSocket, conn: Conn, missed: list[Item]) -> bool:
    """Write the frames; False when the client is gone or was dropped as slow."""
    if not missed:
        return True
    ok = conn.sink.write_many(missed)
    missed.clear()
    # past the send bound: wait for the client to read, or close it as slow
    # (it resumes from what it has); never go live past a gap
    if ok or await conn.sink.drained():
        return True
    services(ws).hub.drop_slow(conn)
    return False


async def _serve(ws: WebSocket, roles: frozenset[str], resident: bool) -> None:
    svc = services(ws)
    user = await _authorise(ws, roles)
    if user is None:
        return
    home = None
    if resident:
        home = user.home
        if home is None:
            await _deny(ws, 403, "no_home", "this account has no home position")
            return
    try:  # limits.sockets_per_account, in this worker: one more is refused, none is closed
        svc.quotas.open_socket(user.id)
    except RateLimited as exc:
        await _deny(ws, 429, exc.code, exc.message, {"Retry-After": str(exc.retry_after)})
        return
    try:
        await _stream(ws, user, home)
    finally:
        svc.quotas.close_socket(user.id)


async def _stream(ws: WebSocket, user: User, home: Home | None) -> None:
    svc = services(ws)
    since = _since(ws)
    channel = home_channel(home.lat, home.lon, home.sector) if home else OPS
    # What needs the store comes before the accept, so that while it is away
    # the handshake is refused with 503 (app._store_unavailable), not opened
    # to a replay that cannot run.
    await svc.sequencer.join(channel)
    store_head = await svc.replays.store_head(since) if since is not None else 0
    await ws.accept()
    sink = _sink(ws, svc.settings.stream_send_queue_bytes)
    await svc.sequencer.join(channel)  # again: cancels a leave timed during the accept (no await if joined)
    # no await between these two lines: no event can slip between the
    # watermark and the start of buffering
    token, _ = credentials(ws.headers, ws.cookies, svc.settings.session_cookie)
    session = token_hash(token) if token else None  # sockets close when their session ends
    if home:
        conn = svc.hub.attach_resident(sink, home, since or 0, session)
    else:
        conn = svc.hub.attach_ops(sink, since or 0, user.id, session)
    head = svc.sequencer.watermark(channel)
    try:
        await _replay(ws, conn, since, home, head, store_head)
        svc.hub.go_live(conn)
        while True:  # clients have nothing to say; wait for the close
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                break
    except WebSocketDisconnect:
        pass
    finally:
        svc.hub.detach(conn)
        if isinstance(sink, AsgiSink):
            sink.stop()


async def ops_stream(ws: WebSocket) -> None:
    await _serve(ws, OPS_VIEW_ROLES, resident=False)


async def resident_stream(ws: WebSocket) -> None:
    await _serve(ws, RESIDENT_ROLES, resident=True)


routes = [
    WebSocketRoute("/ws/ops", ops_stream),
    WebSocketRoute("/ws/resident", resident_stream),
]
