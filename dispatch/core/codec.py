"""Event -> bytes, once per audience shape.

The hub writes the same prebuilt WebSocket frame to every connection of an
audience, so framing happens here once per event, not once per socket."""

from __future__ import annotations

from typing import Any

import orjson


def message(type_: str, seq: int, data: Any) -> bytes:
    return orjson.dumps({"type": type_, "seq": seq, "data": data})


def text_frame(payload: bytes) -> bytes:
    """An unmasked, unfragmented, uncompressed server text frame (RFC 6455 §5.2).

    Servers never mask (§5.1); permessage-deflate is not negotiated on our
    sockets, so RSV1 stays clear."""
    n = len(payload)
    if n < 126:
        header = bytes((0x81, n))
    elif n < 1 << 16:
        header = bytes((0x81, 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + n.to_bytes(8, "big")
    return header + payload


def close_frame(code: int, reason: str = "") -> bytes:
    body = code.to_bytes(2, "big") + reason.encode()[:123]
    return bytes((0x88, len(body))) + body
