"""Frames built once by the hub are valid RFC 6455 server frames: checked by
parsing them with python-websockets' own sans-I/O client."""

from __future__ import annotations

import base64
import hashlib

import pytest
from websockets.client import ClientProtocol
from websockets.frames import Opcode
from websockets.uri import parse_uri

from dispatch.core.codec import close_frame, message, text_frame


def _open_client() -> ClientProtocol:
    """A client protocol past its handshake, fed the server's 101 by hand."""
    client = ClientProtocol(parse_uri("ws://localhost/"))
    request = client.connect()
    client.send_request(request)
    key = request.headers["Sec-WebSocket-Key"]
    accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
    client.receive_data(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
    )
    client.events_received()
    return client


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 200_000])
def test_text_frames_parse(size: int) -> None:
    client = _open_client()
    payload = message("x", 1, "a" * size)
    client.receive_data(text_frame(payload))
    (frame,) = client.events_received()
    assert frame.opcode == Opcode.TEXT and frame.data == payload and frame.fin


def test_close_frame_parses() -> None:
    client = _open_client()
    client.receive_data(close_frame(4008, "too slow"))
    (frame,) = client.events_received()
    assert frame.opcode == Opcode.CLOSE
    assert int.from_bytes(frame.data[:2], "big") == 4008
