"""Real stand-ins for the servers out-of-band delivery talks to (issue 19),
each listening on a free port in a thread of the test process:

- SmtpStandIn: an aiosmtpd SMTP server recording every message;
- GatewayStandIn: an HTTP SMS gateway recording each POST (and its bearer
  token); `down` makes it answer 503, `stop()` stops it listening;
- PushStandIn: an HTTP push service that checks each request's VAPID JWT
  (RFC 8292: ES256 over the key in `k`, audience = its origin, not expired)
  and DECRYPTS the body (RFC 8291 aes128gcm) with the subscriber's private
  ECDH key and auth secret, as a browser would."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.conftest import free_port


def b64d(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64e(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class InFlight:
    """How many requests a stand-in is answering at once, and the most so far
    (two server workers sending together show more than one worker's
    notify.concurrency)."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0
        self.lock = threading.Lock()

    def enter(self) -> None:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def leave(self) -> None:
        with self.lock:
            self.now -= 1


class SmtpStandIn:
    """`messages`: every message whose DATA arrived, recorded on arrival,
    before the answer (delayed by `delay_s`): a sender killed while waiting
    for the 250 has had its message taken all the same, as with a real relay."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.lock = threading.Lock()
        self.delay_s = 0.0
        self.inflight = InFlight()
        outer = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                outer.inflight.enter()
                try:
                    with outer.lock:
                        outer.messages.append(message_from_bytes(envelope.content, policy=policy.default))
                    if outer.delay_s:
                        await asyncio.sleep(outer.delay_s)
                finally:
                    outer.inflight.leave()
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


class _Http:
    """A ThreadingHTTPServer running `handle(handler, body) -> (status, body)` on each POST."""

    def __init__(self) -> None:
        self.port = free_port()
        self.server: ThreadingHTTPServer | None = None
        self.start()

    def start(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                status, out = outer.handle(self, body)
                self.send_response(status)
                self.send_header("content-length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def handle(self, h: BaseHTTPRequestHandler, body: bytes) -> tuple[int, bytes]:
        raise NotImplementedError


class GatewayStandIn(_Http):
    """`received`: the body of every request it accepted, in arrival order,
    recorded on arrival, before the answer (delayed by `delay_s`): a sender
    killed while waiting for the 202 has had its SMS taken all the same. So an
    `id` appears twice when a retry repeats a request whose answer was lost;
    a real gateway sends the SMS once per `id` (what the tests count)."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.tokens: list[str] = []
        self.down = False
        self.delay_s = 0.0
        self.inflight = InFlight()
        self.lock = threading.Lock()
        super().__init__()

    def handle(self, h: BaseHTTPRequestHandler, body: bytes) -> tuple[int, bytes]:
        if self.down:
            return 503, b"down"
        self.inflight.enter()
        try:
            with self.lock:
                self.received.append(json.loads(body))
                self.tokens.append(h.headers.get("authorization", ""))
            if self.delay_s:
                time.sleep(self.delay_s)
        finally:
            self.inflight.leave()
        return 202, b"{}"


@dataclass
class Subscriber:
    """A browser's push subscription: its private ECDH key and auth secret."""

    endpoint: str
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: __import__("os").urandom(16))

    def subscription(self) -> dict[str, Any]:
        raw = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {"endpoint": self.endpoint, "keys": {"p256dh": b64e(raw), "auth": b64e(self.auth)}}


def check_vapid(authorization: str, audience: str) -> bytes:
    """The VAPID header's JWT verified (RFC 8292 sections 2-3); the server key."""
    assert authorization.startswith("vapid "), authorization
    parts = dict(p.strip().split("=", 1) for p in authorization[6:].split(","))
    token, k = parts["t"], b64d(parts["k"])
    head, claims, sig = token.split(".")
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), k)
    raw = b64d(sig)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    assert json.loads(b64d(head))["alg"] == "ES256"
    c = json.loads(b64d(claims))
    assert c["aud"] == audience and c["exp"] > time.time() and c["sub"]
    return k


class PushStandIn(_Http):
    def __init__(self) -> None:
        self.subscribers: dict[str, Subscriber] = {}
        self.received: list[tuple[str, dict[str, Any]]] = []  # (path, decrypted payload)
        self.errors: list[str] = []
        self.gone: set[str] = set()
        self.hits: Counter[str] = Counter()  # requests per path, whatever the answer
        self.lock = threading.Lock()
        super().__init__()

    def subscriber(self, name: str) -> Subscriber:
        s = Subscriber(f"{self.url}/push/{name}")
        self.subscribers[f"/push/{name}"] = s
        return s

    def handle(self, h: BaseHTTPRequestHandler, body: bytes) -> tuple[int, bytes]:
        with self.lock:
            self.hits[h.path] += 1
        if h.path in self.gone:
            return 410, b""
        sub = self.subscribers.get(h.path)
        if sub is None:
            return 404, b""
        try:
            check_vapid(h.headers.get("authorization", ""), self.url)
            assert h.headers.get("content-encoding") == "aes128gcm"
            plain = http_ece.decrypt(body, private_key=sub.key, auth_secret=sub.auth, version="aes128gcm")
        except Exception as exc:  # recorded: the test fails on it
            self.errors.append(repr(exc))
            return 400, b""
        with self.lock:
            self.received.append((h.path, json.loads(plain)))
        return 201, b""
