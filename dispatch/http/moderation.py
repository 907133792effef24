"""Moderation routes: residents' applications and their proofs (every read
of a proof audited), residents' flags on alerts, hiding alerts, suspending
accounts. Moderators see identities here and nowhere else."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dispatch.core import moderation
from dispatch.core.joining import EXTENSIONS
from dispatch.core.model import ACCOUNT_ADMIN_ROLES, ACCOUNT_STATUSES, MODERATOR_ROLES, RESIDENT_ROLES
from dispatch.core.validation import InputError
from dispatch.http.app_state import services
from dispatch.http.requests import JSON, check_query, is_number, path_id, principal, read_json


async def list_residents(request: Request) -> Response:
    viewer = await principal(request, ACCOUNT_ADMIN_ROLES)
    q = check_query(request, frozenset({"status", "limit"}))
    status = q.get("status", "pending")
    if status not in ACCOUNT_STATUSES:
        raise InputError(422, "unknown_status", f"status must be one of {', '.join(ACCOUNT_STATUSES)}", "status")
    raw = q.get("limit", "500")
    if not is_number(raw) or not 1 <= int(raw) <= 500:
        raise InputError(422, "out_of_range", "limit must be between 1 and 500", "limit")
    return JSON(
        await services(request).moderation.residents(viewer, status, int(raw)), headers={"cache-control": "no-store"}
    )


async def proof(request: Request) -> Response:
    """The proof file itself, to a moderator; every call recorded."""
    viewer = await principal(request, MODERATOR_ROLES)
    account_id = path_id(request, "account_id")
    data, media_type, proof_id = await services(request).moderation.proof(viewer, account_id)
    name = f"proof-{account_id}-{proof_id}.{EXTENSIONS.get(media_type, 'bin')}"
    headers = {
        "cache-control": "no-store",
        # inline: the moderation page shows it in an <img> or an <iframe>
        # (an attachment would be downloaded instead); the name is kept for
        # "save as"
        "content-disposition": f'inline; filename="{name}"',
        # a PDF opened in the browser runs in a sandbox without scripts; the
        # moderation page, and only it (our origin), may show it in a frame
        "content-security-policy": "default-src 'none'; sandbox; frame-ancestors 'self'",
        "x-frame-options": "SAMEORIGIN",
    }
    return Response(data, media_type=media_type, headers=headers)


async def decide_resident(request: Request) -> Response:
    actor = await principal(request, MODERATOR_ROLES, write=True)
    decision = moderation.resident_decision(await read_json(request))
    return JSON(await services(request).moderation.decide(actor, path_id(request, "account_id"), decision))


async def flag_alert(request: Request) -> Response:
    user = await principal(request, RESIDENT_ROLES, write=True)
    reason = moderation.flag_reason(await read_json(request))
    svc, alert_id = services(request), path_id(request, "alert_id")
    await svc.quotas.flag(user.id, alert_id)  # 429 past limits.flags_per_window
    flag = await svc.moderation.flag(user, alert_id, reason)
    return JSON(flag, status_code=201)


async def open_flags(request: Request) -> Response:
    viewer = await principal(request, MODERATOR_ROLES)
    check_query(request, frozenset())
    return JSON(await services(request).moderation.open_flags(viewer))


async def moderate_alert(request: Request) -> Response:
    actor = await principal(request, MODERATOR_ROLES, write=True)
    decision = moderation.alert_action(await read_json(request))
    return JSON(await services(request).moderation.alert(actor, path_id(request, "alert_id"), decision))


async def moderate_account(request: Request) -> Response:
    actor = await principal(request, ACCOUNT_ADMIN_ROLES, write=True)
    decision = moderation.account_action(await read_json(request))
    return JSON(await services(request).moderation.account(actor, path_id(request, "account_id"), decision))


routes = [
    Route("/api/moderation/residents", list_residents, methods=["GET"]),
    Route("/api/moderation/residents/{account_id}/proof", proof, methods=["GET"]),
    Route("/api/moderation/residents/{account_id}", decide_resident, methods=["POST"]),
    Route("/api/alerts/{alert_id}/flags", flag_alert, methods=["POST"]),
    Route("/api/moderation/flags", open_flags, methods=["GET"]),
    Route("/api/moderation/alerts/{alert_id}", moderate_alert, methods=["POST"]),
    Route("/api/moderation/accounts/{account_id}", moderate_account, methods=["POST"]),
]
