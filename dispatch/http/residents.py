"""Joining: POST /api/residents, a multipart form with a proof of address.

The body is read in full first, up to core.joining.MAX_JOIN_BODY (a larger
one is read to its end, up to DRAIN_MAX, then refused with 413 and nothing
kept, so the client reads the answer instead of a reset connection), then
parsed by Starlette's form parser (python-multipart) with limits on files,
fields and field sizes. The proof's type is judged from its bytes
(core.joining.sniff_media_type), never from its name or declared type."""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Message

from dispatch.core.joining import FILE_FIELDS, MAX_JOIN_BODY, MAX_PROOF_BYTES, check_fields, join_input
from dispatch.core.validation import InputError, no_nul, whole_number
from dispatch.http.app_state import services
from dispatch.http.requests import JSON

# Past this much, stop reading an oversized body (the connection then closes).
DRAIN_MAX = 64 * 1024 * 1024
MAX_FIELD_BYTES = 4096


def _too_large() -> InputError:
    return InputError(413, "body_too_large", f"the body is over {MAX_PROOF_BYTES // (1024 * 1024)} MB")


async def _body(request: Request) -> bytes:
    declared = whole_number(request.headers.get("content-length", ""))
    over = declared is not None and declared > MAX_JOIN_BODY
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_JOIN_BODY:
            over = True
        if over:
            chunks.clear()  # keep nothing
            if size > DRAIN_MAX:
                break
            continue
        chunks.append(chunk)
    if over:
        raise _too_large()
    return b"".join(chunks)


async def _form(request: Request) -> tuple[dict[str, str], bytes]:
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise InputError(415, "unsupported_media_type", "send multipart/form-data")
    body = await _body(request)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    parsed = Request(request.scope, replay)
    try:
        form = await parsed.form(max_files=1, max_fields=len(FILE_FIELDS) + 8, max_part_size=MAX_FIELD_BYTES)
    except HTTPException as exc:  # a malformed body, or past the limits
        raise InputError(400, "malformed_form", str(exc.detail)) from None
    try:
        items = form.multi_items()
        check_fields([k for k, _ in items])
        fields: dict[str, str] = {}
        proof: bytes | None = None
        for key, value in items:
            if key in FILE_FIELDS:
                if not isinstance(value, UploadFile):
                    raise InputError(422, "invalid_type", "proof must be a file", key)
                proof = await value.read(MAX_PROOF_BYTES + 1)
            elif isinstance(value, str):
                fields[key] = no_nul(value, key)
            else:
                raise InputError(422, "invalid_type", f"{key} must be text, not a file", key)
    finally:
        await form.close()
    if proof is None:
        raise InputError(422, "missing_field", "proof is required", "proof")
    return fields, proof


async def join(request: Request) -> Response:
    """Anyone: 201 {"id", "status": "pending"}, the same whether or not the
    e-mail already has an account (usecases.joining)."""
    fields, proof = await _form(request)
    account_id = await services(request).joining.join(join_input(fields), proof)
    return JSON({"id": account_id, "status": "pending"}, status_code=201)


routes = [Route("/api/residents", join, methods=["POST"])]
