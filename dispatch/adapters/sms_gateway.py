"""SMS through the town's HTTP gateway (httpx, kept connections: http_pool):
POST {"id", "to", "text"} with Authorization: Bearer <notify.sms_token>.
Any 2xx means accepted. The `id` is the outbox row's ext_id, unique per
message and recipient and repeated on a retry, so a gateway that got the
first attempt (and we lost its answer) sends it once."""

from __future__ import annotations

import httpx

from dispatch.adapters.http_pool import ClientPool
from dispatch.core.outbox import OutboxItem, Outcome


class SmsGateway:
    channel = "sms"

    def __init__(self, url: str, token: str, timeout_s: float = 10.0, connections: int = 100) -> None:
        self.url = url
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = ClientPool(connections, timeout_s, headers)

    async def send(self, item: OutboxItem) -> Outcome:
        try:
            body = {"id": item.ext_id, "to": item.dest, "text": item.body}
            r = await self.http.client(item.id).post(self.url, json=body)
        except httpx.HTTPError as exc:
            return Outcome("retry", type(exc).__name__)
        if 200 <= r.status_code < 300:
            return Outcome("sent")
        # 408, 429 and 5xx pass; any other 4xx is this message's fault
        if r.status_code in (408, 429) or r.status_code >= 500:
            return Outcome("retry", f"HTTP {r.status_code}")
        return Outcome("failed", f"HTTP {r.status_code}")

    async def close(self) -> None:
        await self.http.aclose()
