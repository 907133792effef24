"""geo/ and dispatch/core/ stay pure (ARCHITECTURE.md): no event loop, web
framework, database or bus imports, so their tests need no server."""

from __future__ import annotations

import ast

import pytest

from dispatch.settings import REPO_ROOT

FORBIDDEN = {"asyncio", "starlette", "uvicorn", "asyncpg", "aiosqlite", "redis", "websockets", "httpx"}
MODULES = sorted([*(REPO_ROOT / "geo").glob("*.py"), *(REPO_ROOT / "dispatch" / "core").glob("*.py")])


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_pure_module(path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"
            assert not name.startswith(("dispatch.adapters", "dispatch.http.app", "dispatch.live.hub")), (
                f"{path.name} imports {name}"
            )
