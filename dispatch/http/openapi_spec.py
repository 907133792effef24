"""What one HTTP operation declares for GET /openapi.json, and the JSON
Schema shorthands the declarations are written with.

An `Op` holds what the router cannot tell: who may call it, its query
parameters, its body, its answers. The errors every operation of a kind
gives (401 and 403 behind a session, 400, 413 and 422 for a JSON body, 422
for a query, 404 for an id in the path, 503 while the store does not
answer) are added here once, from the shape of the declaration, so that a
declaration lists only what is its own. Pure data: no framework types."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Schema = dict[str, Any]

STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
NUM: Schema = {"type": "number"}
BOOL: Schema = {"type": "boolean"}
TIME: Schema = {"type": "string", "format": "date-time"}
ANY_OBJ: Schema = {"type": "object"}
JSON_MEDIA = "application/json"


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def null(schema: Schema) -> Schema:
    """The schema, or JSON null (OpenAPI 3.1 has no `nullable`)."""
    return {"anyOf": [schema, {"type": "null"}]}


def arr(items: Schema, **more: Any) -> Schema:
    return {"type": "array", "items": items, **more}


def enum(values: Any) -> Schema:
    return {"type": "string", "enum": sorted(values)}


def text(max_len: int, min_len: int = 0) -> Schema:
    return {"type": "string", "maxLength": max_len, "minLength": min_len}


def obj(required: Mapping[str, Schema], optional: Mapping[str, Schema] | None = None, closed: bool = False) -> Schema:
    """An object with these keys; `closed`: no other key (a body the
    server parses strictly, or a view that must carry nothing more)."""
    out: Schema = {"type": "object", "properties": {**required, **(optional or {})}}
    if required:
        out["required"] = sorted(required)
    if closed:
        out["additionalProperties"] = False
    return out


@dataclass(frozen=True)
class Op:
    """One operation. `roles`: the roles that get its answer (None: anyone,
    no session needed; the set the route passes to `principal`).
    `answer`: the schema of its success body (None: no body) with status
    `status` and type `media`; `more`: other answers of its own, status ->
    (why, schema or None)."""

    summary: str
    roles: frozenset[str] | None
    answer: Schema | None = None
    status: int = 200
    media: str = JSON_MEDIA
    alt_media: Mapping[str, Schema] = field(default_factory=dict)  # other types of the success answer
    query: Mapping[str, Schema] = field(default_factory=dict)
    required_query: frozenset[str] = frozenset()
    body: Schema | None = None
    body_media: str = JSON_MEDIA
    more: Mapping[int, tuple[str, Schema | None]] = field(default_factory=dict)
    signed: bool = False  # the SMS gateway's X-Dispatch-Signature instead of a session
    any_status: bool = False  # an account of any status, not only a validated one


ERROR = ref("Error")
_WHY = {
    400: "the body is not JSON, or not an object (malformed_json, not_an_object)",
    401: "no valid session (unauthenticated)",
    403: "the role may not (forbidden), the account is not validated (not_validated), or a cookie write "
    "from a foreign origin (forbidden_origin)",
    404: "no such record (not_found)",
    413: "the body is over 64 KiB (body_too_large)",
    422: "a field or query parameter is wrong: the error names it",
    429: "a limit was reached (rate_limited); Retry-After says when to try again",
    503: "the store or the bus does not answer (unavailable); Retry-After says when to try again",
}
_RETRY_AFTER = {"Retry-After": {"description": "seconds", "schema": INT}}


def _content(media: str, schema: Schema | None) -> dict[str, Any]:
    return {media: {"schema": schema if schema is not None else STR}}


def _error(status: int, why: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": why or _WHY[status], "content": _content(JSON_MEDIA, ERROR)}
    if status in (429, 503):
        out["headers"] = _RETRY_AFTER
    return out


def implied_errors(op: Op, path_params: bool) -> set[int]:
    """The error statuses an operation gives by its kind alone."""
    out = {503}
    if op.roles is not None:
        out |= {401, 403}
    if op.signed:
        out.add(403)
    if op.body is not None and op.body_media == JSON_MEDIA:
        out |= {400, 413, 422}
    if op.query:
        out.add(422)
    if path_params:
        out.add(404)
    return out


def responses(op: Op, path_params: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    ok: dict[str, Any] = {"description": op.summary}
    if op.answer is not None:
        ok["content"] = {**_content(op.media, op.answer), **{m: {"schema": s} for m, s in op.alt_media.items()}}
    out[str(op.status)] = ok
    for status in sorted(implied_errors(op, path_params)):
        out[str(status)] = _error(status)
    for status, (why, schema) in op.more.items():
        if status >= 400 and schema is None:
            out[str(status)] = _error(status, why)
        else:
            answer: dict[str, Any] = {"description": why}
            if schema is not None:
                answer["content"] = _content(JSON_MEDIA if status >= 400 else op.media, schema)
            if status in (429, 503):
                answer["headers"] = _RETRY_AFTER
            out[str(status)] = answer
    return dict(sorted(out.items()))


def query_parameters(op: Op) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "query", "required": name in op.required_query, "schema": schema}
        for name, schema in op.query.items()
    ]


def security(op: Op) -> list[dict[str, list[str]]]:
    if op.signed:
        return [{"gatewaySignature": []}]
    if op.roles is None:
        return []
    return [{"bearer": []}, {"cookie": []}]


def operation(op: Op, op_id: str, path_params: list[str]) -> dict[str, Any]:
    params = [{"name": p, "in": "path", "required": True, "schema": INT} for p in path_params]
    out: dict[str, Any] = {
        "operationId": op_id,
        "summary": op.summary,
        "security": security(op),
        # who gets the answer: the roles the server checks (docs/reference.md, Roles)
        "x-roles": sorted(op.roles) if op.roles is not None else [],
        "responses": responses(op, bool(path_params)),
    }
    if op.any_status:
        out["x-any-status"] = True
    if params or op.query:
        out["parameters"] = params + query_parameters(op)
    if op.body is not None:
        out["requestBody"] = {"required": True, "content": {op.body_media: {"schema": op.body}}}
    return out
