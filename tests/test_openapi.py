"""GET /openapi.json is true: every HTTP route of the app is in it with its
methods and nothing else is, each has a declaration (none is left over),
the document is valid OpenAPI 3.1 with valid JSON Schemas, the server
serves it, and docs/reference.md lists it.

The routes are walked here with tests/test_docs.py's walker, not the one
the document is built with, so a walker that skipped routes would fail."""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema
import pytest
from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR
from starlette.routing import Route

from dispatch.http.app import create_app
from dispatch.http.openapi import DECLARED, document, http_operations
from dispatch.settings import REPO_ROOT, load_settings
from tests.e2e import embedded_env, server_factory
from tests.test_docs import _walk, path_shape, reference, section

__all__ = ["server_factory"]
METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}


def app_routes() -> list[Any]:
    return list(create_app(load_settings(REPO_ROOT / "config.toml", env={})).routes)


def documented(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(m.upper(), path_shape(p)) for p, item in doc["paths"].items() for m in item if m in METHODS}


def http_routes(routes: list[Any]) -> set[tuple[str, str]]:
    return {(m, path_shape(p)) for m, p in _walk(routes) if m != "WS"}


def problems(routes: list[Any]) -> tuple[set[str], set[str]]:
    """(routes the document has no declaration for, declarations naming no route)."""
    ops = {f"{m} {p}" for m, p in http_operations(routes)}
    doc = document(routes)
    undeclared = {
        f"{m.upper()} {p}" for p, item in doc["paths"].items() for m, o in item.items() if "x-undeclared" in o
    }
    return undeclared, set(DECLARED) - ops


def test_every_route_is_in_the_document_with_its_methods_and_nothing_else() -> None:
    routes = app_routes()
    assert documented(document(routes)) == http_routes(routes)


def test_every_route_has_its_declaration_and_every_declaration_its_route() -> None:
    assert problems(app_routes()) == (set(), set())


def test_a_route_without_a_declaration_is_caught() -> None:
    async def endpoint(request: Any) -> Any:
        raise AssertionError("never called")

    routes = [*app_routes(), Route("/api/new/{thing_id}", endpoint, methods=["POST"])]
    doc = document(routes)
    assert ("POST", "/api/new/{}") in documented(doc)  # listed, as the router has it...
    assert problems(routes)[0] == {"POST /api/new/{thing_id}"}  # ...and flagged until declared
    without_login = [r for r in app_routes() if getattr(r, "path", "") != "/api/auth/login"]
    assert "POST /api/auth/login" in problems(without_login)[1]


def _schemas(node: Any) -> list[dict[str, Any]]:
    """Every JSON Schema the document holds (components, parameters, bodies, answers)."""
    out: list[dict[str, Any]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "schema" and isinstance(value, dict):
                out.append(value)
            else:
                out.extend(_schemas(value))
    elif isinstance(node, list):
        for value in node:
            out.extend(_schemas(value))
    return out


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [node["$ref"]] if "$ref" in node else [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_the_document_is_valid_openapi_3_1() -> None:
    doc = document(app_routes())
    assert doc["openapi"].startswith("3.1.")
    OPENAPI_31_VALIDATOR.validate(doc)  # the 3.1 meta-schema schemathesis validates with
    # the meta-schema leaves the embedded schemas alone: check each against JSON Schema 2020-12
    embedded = [*doc["components"]["schemas"].values(), *_schemas(doc["paths"])]
    assert len(embedded) > 100
    for schema in embedded:
        jsonschema.Draft202012Validator.check_schema(schema)
    for target in _refs(doc):  # every $ref names a component
        assert target.removeprefix("#/components/schemas/") in doc["components"]["schemas"], target
    assert len({op["operationId"] for item in doc["paths"].values() for op in item.values()}) == len(documented(doc))


def test_path_parameters_are_typed_and_errors_declared() -> None:
    doc = document(app_routes())
    for path, item in doc["paths"].items():
        for method, op in item.items():
            params = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "path"}
            assert set(params) == {seg[1:-1] for seg in path.split("/") if seg.startswith("{")}, (method, path)
            assert all(p["schema"] == {"type": "integer"} and p["required"] for p in params.values())
            if params:
                assert "404" in op["responses"], (method, path)
            if op["security"] and "gatewaySignature" not in op["security"][0]:
                assert {"401", "403"} <= set(op["responses"]), (method, path)
            for status, answer in op["responses"].items():
                if status.startswith("4"):
                    assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_the_description_names_the_streams_and_static_files() -> None:
    text = document(app_routes())["info"]["description"]
    for name in ("/ws/ops", "/ws/resident", "/static/", "/vendor/leaflet/"):
        assert name in text


def test_the_server_serves_it_and_the_reference_lists_it(server_factory: Any, tmp_path: Any) -> None:
    server = server_factory(embedded_env(tmp_path))
    r = httpx.get(server.url + "/openapi.json", timeout=10)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.json() == document(app_routes())
    http = section(reference(), "HTTP")
    assert "| `GET /openapi.json` | anyone |" in http
    assert "| `GET /openapi.json` | 200 |" in section(reference(), "Roles")


@pytest.mark.parametrize("key", sorted(DECLARED))
def test_every_declaration_has_a_summary(key: str) -> None:
    assert DECLARED[key].summary and key.split(" ", 1)[0] in {m.upper() for m in METHODS}
