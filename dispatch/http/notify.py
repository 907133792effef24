"""Out-of-band delivery at the edge (issue 19): a resident's notification
settings and push subscriptions, the VAPID key, the SMS gateway's signed
status reports, and a broadcast's receipts."""

from __future__ import annotations

import hashlib
import hmac

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dispatch.core.model import OPERATOR_ROLES, RESIDENT_ROLES
from dispatch.core.notify_settings import sms_status_input
from dispatch.core.validation import InputError, parse_json_object
from dispatch.http.app_state import services
from dispatch.http.requests import JSON, path_id, principal, read_json


async def get_notifications(request: Request) -> Response:
    user = await principal(request, RESIDENT_ROLES)
    return JSON(await services(request).notifications.view(user))


async def put_notifications(request: Request) -> Response:
    user = await principal(request, RESIDENT_ROLES, write=True)
    body = await read_json(request)
    return JSON(await services(request).notifications.update(user, body))


async def push_key(request: Request) -> Response:
    return JSON({"public_key": services(request).notifications.vapid_public_key})


async def add_push_subscription(request: Request) -> Response:
    user = await principal(request, RESIDENT_ROLES, write=True)
    body = await read_json(request)
    sid = await services(request).notifications.subscribe(user, body)
    return JSON({"id": sid}, status_code=201)


def signature_ok(secret: str, body: bytes, given: str | None) -> bool:
    """X-Dispatch-Signature: hex HMAC-SHA256 of the raw body, compared in
    constant time. No secret configured: nothing is accepted."""
    if not secret or not given:
        return False
    want = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, given.strip().lower())


async def sms_status(request: Request) -> Response:
    """The gateway's delivery report, signed like the intake."""
    svc = services(request)
    raw = await request.body()
    if not signature_ok(svc.settings.notify_sms_secret, raw, request.headers.get("x-dispatch-signature")):
        raise InputError(403, "bad_signature", "the signature does not match the body")
    ext_id, status = sms_status_input(parse_json_object(raw))
    # an id we never sent (or already final) is acknowledged too: a gateway
    # retries what it sees refused, and there is nothing to retry
    await svc.delivery.sms_status(ext_id, status)
    return Response(status_code=204)


async def receipts(request: Request) -> Response:
    svc = services(request)
    await principal(request, OPERATOR_ROLES)
    bid = path_id(request, "broadcast_id")
    if await svc.store.get_broadcast(bid) is None:
        raise InputError(404, "not_found", f"no such broadcast {bid}")
    return JSON(await svc.delivery.receipts(bid))


routes = [
    Route("/api/me/notifications", get_notifications, methods=["GET"]),
    Route("/api/me/notifications", put_notifications, methods=["PUT"]),
    Route("/api/push/key", push_key, methods=["GET"]),
    Route("/api/me/push-subscriptions", add_push_subscription, methods=["POST"]),
    Route("/api/sms/status", sms_status, methods=["POST"]),
    Route("/api/broadcasts/{broadcast_id}/receipts", receipts, methods=["GET"]),
]
