"""Web Push (RFC 8030) with message encryption (RFC 8291, aes128gcm) and
VAPID (RFC 8292): pywebpush encrypts each message for one subscription,
py_vapid signs the JWT, httpx posts it (asynchronously, kept connections: http_pool;
pywebpush's own sender is synchronous).

The VAPID private key is a PEM file (notify.vapid_key), made at first start
if it is missing, readable by the server's user only; the page subscribes
with its public key (GET /api/push/key)."""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02
from pywebpush import WebPusher

from dispatch.adapters.http_pool import ClientPool
from dispatch.core.outbox import OutboxItem, Outcome
from dispatch.ports.notifier import Subscriptions

# a message nobody received within a day is no longer news
TTL_S = 24 * 3600
JWT_LIFETIME_S = 12 * 3600  # RFC 8292 section 2: at most 24 hours
# signatures kept, one per push service origin: browsers use a handful
# (FCM, Mozilla, Apple, Windows), but the endpoints are residents' input
# and could name any origin (docs/bounds.md)
JWT_CACHE = 64


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def load_or_create_key(path: Path) -> Vapid02:
    """The VAPID key at `path`; a new P-256 key written there (mode 0600) if
    there is none. Two workers starting at once: the second one's O_EXCL
    open fails and it reads the first one's file."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
    for _ in range(50):  # the other process may still be writing it
        data = path.read_bytes()
        if b"END PRIVATE KEY" in data:
            break
        time.sleep(0.02)
    return Vapid02.from_pem(data)


def public_key(vapid: Vapid02) -> str:
    """The application server key as the Push API takes it: the uncompressed
    P-256 point, base64url without padding."""
    raw = vapid.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return b64url(raw)


class WebPushSender:
    channel = "push"

    def __init__(
        self,
        vapid: Vapid02,
        subject: str,
        subscriptions: Subscriptions,
        timeout_s: float = 10.0,
        connections: int = 100,
    ) -> None:
        self.vapid = vapid
        self.subject = subject
        self.subscriptions = subscriptions
        self.http = ClientPool(connections, timeout_s)
        self._jwts: dict[str, tuple[float, str]] = {}  # audience -> (expiry, Authorization)

    def _authorization(self, endpoint: str) -> str:
        parts = urlsplit(endpoint)
        aud = f"{parts.scheme}://{parts.netloc}"
        now = time.time()
        cached = self._jwts.get(aud)
        if cached is None or cached[0] - now < 600:  # one signature per push service, renewed early
            exp = int(now) + JWT_LIFETIME_S
            header = self.vapid.sign({"aud": aud, "exp": exp, "sub": self.subject})["Authorization"]
            cached = (float(exp), header)
            self._jwts.pop(aud, None)
            if len(self._jwts) >= JWT_CACHE:
                self._jwts.pop(next(iter(self._jwts)))
            self._jwts[aud] = cached
        return cached[1]

    async def send(self, item: OutboxItem) -> Outcome:
        """The message to every subscription of the recipient: sent when one
        push service took it; a 404/410 subscription is removed (RFC 8030
        section 7.3: it is gone for good)."""
        subs = await self.subscriptions.push_subscriptions(item.user_id)
        if not subs:
            return Outcome("failed", "no subscription")
        payload = orjson.dumps({"level": item.level, "text": item.body, "id": item.ref_id})
        sent, retry = False, None
        for endpoint, p256dh, auth in subs:
            body = WebPusher({"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}}).encode(payload)["body"]
            headers = {
                "Authorization": self._authorization(endpoint),
                "Content-Encoding": "aes128gcm",
                "Content-Type": "application/octet-stream",
                "TTL": str(TTL_S),
                "Urgency": "high" if item.level == "urgent" else "normal",
            }
            try:
                r = await self.http.client(item.id).post(endpoint, content=body, headers=headers)
            except httpx.HTTPError as exc:
                retry = type(exc).__name__
                continue
            if r.status_code in (404, 410):
                await self.subscriptions.drop_push_subscription(endpoint)
            elif 200 <= r.status_code < 300:
                sent = True
            elif r.status_code == 429 or r.status_code >= 500:
                retry = f"HTTP {r.status_code}"
        if sent:
            return Outcome("sent")
        return Outcome("retry", retry) if retry else Outcome("failed", "every subscription refused it")

    async def close(self) -> None:
        await self.http.aclose()
