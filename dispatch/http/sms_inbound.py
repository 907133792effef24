"""POST /api/sms/inbound: the SMS gateway forwards a resident's text.

Not a session route: the gateway proves itself by signing the raw body,
X-Dispatch-Signature = hex HMAC-SHA256(body, notify.sms_secret), compared in
constant time (hmac.compare_digest). A missing or wrong signature, or a
server with no secret configured (then nothing can be signed), answers 403
`bad_signature` before the body is even parsed, as POST /api/sms/status
does (one gateway, one answer); an unknown number, 403 `unknown_number`
(dispatch/usecases/sms_intake.py)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dispatch.core.validation import MAX_BODY, InputError, parse_json_object, sms_inbound_input
from dispatch.http.app_state import services
from dispatch.http.notify import signature_ok
from dispatch.http.requests import JSON


def signed_body(raw: bytes, signature: str | None, secret: str) -> bytes:
    """The raw body if its signature is right, else 403 bad_signature."""
    if not signature_ok(secret, raw, signature):
        raise InputError(403, "bad_signature", "X-Dispatch-Signature is missing or wrong")
    return raw


async def raw_body(request: Request) -> bytes:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise InputError(413, "body_too_large", f"the body is over {MAX_BODY // 1024} KiB")
    return raw


async def inbound(request: Request) -> Response:
    svc = services(request)
    raw = signed_body(
        await raw_body(request), request.headers.get("x-dispatch-signature"), svc.settings.notify_sms_secret
    )
    sender, text = sms_inbound_input(parse_json_object(raw))
    outcome = await svc.sms_intake.receive(sender, text)
    return JSON(outcome.as_dict(), status_code=201 if outcome.alert is not None else 200)


routes = [Route("/api/sms/inbound", inbound, methods=["POST"])]
