"""The few RFC 6455 pieces the light client and the floor server need.

Hand-rolled on purpose: a full WebSocket library costs more CPU per frame
than the server we measure (docs/architecture.md: a websockets client tops out at
32-38k deliveries/s), so the load side parses only frame boundaries."""

from __future__ import annotations

import base64
import hashlib
import os
import re
from typing import Any

import orjson

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3

OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x2, 0x8, 0x9, 0xA

# The alert id inside a resident message; the first `"id":` is data.id
# (the envelope has type/seq/data only). \s* because json.dumps puts a
# space after the colon and orjson does not.
ALERT_ID = re.compile(rb'"id":\s*(\d+)')


def accept_key(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key.strip() + GUID).digest())


def client_handshake(host: str, port: int, path: str, headers: dict[str, str]) -> tuple[bytes, bytes]:
    """(request bytes, expected Sec-WebSocket-Accept). No extensions are
    offered, so permessage-deflate is never negotiated."""
    key = base64.b64encode(os.urandom(16))
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key.decode()}",
        "Sec-WebSocket-Version: 13",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode(), accept_key(key)


def server_frame(payload: bytes, opcode: int = OP_TEXT) -> bytes:
    """Unmasked, final, uncompressed (RFC 6455 section 5.2)."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, n))
    elif n < 1 << 16:
        head = bytes((0x80 | opcode, 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 127)) + n.to_bytes(8, "big")
    return head + payload


def client_frame(payload: bytes, opcode: int) -> bytes:
    """Clients must mask (section 5.3). Only used for pongs and closes,
    so a plain Python XOR is fast enough."""
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    else:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    return head + mask + masked


def parse_frames(buf: bytearray) -> list[tuple[int, bytes]]:
    """Pops every complete frame from buf: [(opcode, unmasked payload)]."""
    out: list[tuple[int, bytes]] = []
    while len(buf) >= 2:
        b1 = buf[1]
        n = b1 & 0x7F
        pos = 2
        if n == 126:
            if len(buf) < 4:
                break
            n, pos = int.from_bytes(buf[2:4], "big"), 4
        elif n == 127:
            if len(buf) < 10:
                break
            n, pos = int.from_bytes(buf[2:10], "big"), 10
        mask = b""
        if b1 & 0x80:
            mask, pos = bytes(buf[pos : pos + 4]), pos + 4
        if len(buf) < pos + n:
            break
        payload = bytes(buf[pos : pos + n])
        if mask:
            payload = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
        out.append((buf[0] & 0x0F, payload))
        del buf[: pos + n]
    return out


def alert_message(alert_id: int, sector: str | None, cell: str = "891f8d7a49bffff") -> dict[str, Any]:
    """The shape of an alert.nearby message as residents get it from ours
    (dispatch.core.views.alert_resident), so the floor and the naive server
    send frames of the same size."""
    return {
        "type": "alert.nearby",
        "seq": alert_id,
        "data": {
            "id": alert_id,
            "category": "burglary",
            "text": "bench alert",
            "sector": sector,
            "cell": cell,
            "center": {"lat": 43.184123, "lon": 3.004567},
            "status": "new",
            "created_at": "2025-01-01T12:00:00.000Z",
        },
    }


def alert_payload(alert_id: int, sector: str | None) -> bytes:
    return orjson.dumps(alert_message(alert_id, sector))
