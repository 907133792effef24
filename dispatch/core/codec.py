"""Event -> bytes, once per audience shape: a message's JSON payload, and its
WebSocket frame.

The hub writes the same prebuilt WebSocket frame to every connection of an
audience, so framing happens here once per event, not once per socket."""

from __future__ import annotations

from typing import Any, NewType

import orjson

# Two kinds of bytes travel together on the live path and must never be
# swapped: the JSON text of a message, and the same message framed for the
# wire. Distinct types make a swapped pair a type error (mypy --strict).
Payload = NewType("Payload", bytes)
Frame = NewType("Frame", bytes)
# One message as the hub queues it: the frame for raw sinks, the payload for
# the ASGI fallback, always in this order.
Item = tuple[Frame, Payload]

# Close codes the server sends when it ends a stream on an account's behalf
# (4000-4999 are the application's, RFC 6455 section 7.4.2).
CLOSE_SESSION_ENDED = 4001  # the session was logged out, or its password changed
CLOSE_ACCOUNT_SUSPENDED = 4003  # a moderator or an administrator suspended the account, or it was erased


def message(type_: str, seq: int, data: Any) -> Payload:
    return Payload(orjson.dumps({"type": type_, "seq": seq, "data": data}))


def text_frame(payload: Payload) -> Frame:
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
    return Frame(header + payload)


def close_frame(code: int, reason: str = "") -> Frame:
    body = code.to_bytes(2, "big") + reason.encode()[:123]
    return Frame(bytes((0x88, len(body))) + body)
