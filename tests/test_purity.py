"""The direction of dependencies (docs/architecture.md), for every layer.

Each module of geo/ and dispatch/ belongs to one layer; a layer may import
only the layers listed for it, and the pure layers import no event loop, web
framework, database or bus. A module that fits no layer fails too, so a new
package has to be placed on purpose."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from dispatch.settings import REPO_ROOT

# Third-party and stdlib modules the pure layers must not import: their tests
# need no event loop and no server.
IO = frozenset({"asyncio", "starlette", "uvicorn", "asyncpg", "aiosqlite", "redis", "websockets", "httpx"})
# What the use cases and ports must not import: no HTTP, no SQL, no bus client.
EDGE_AND_DRIVERS = IO - {"asyncio"}

BELOW_EDGE = ("dispatch.core", "dispatch.ports", "dispatch.adapters", "dispatch.usecases", "dispatch.live", "geo")

# layer -> (the dispatch/geo layers it may import, third-party modules it may not)
LAYERS: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {
    "geo": ((), IO),
    "dispatch.core": (("geo",), IO),
    "dispatch.ports": (("dispatch.core", "geo"), IO),
    "dispatch.adapters": (
        ("dispatch.ports", "dispatch.core", "geo", "dispatch.telemetry"),
        frozenset({"starlette", "uvicorn", "websockets"}),
    ),
    "dispatch.usecases": (("dispatch.ports", "dispatch.core", "geo", "dispatch.telemetry"), EDGE_AND_DRIVERS),
    "dispatch.live": (
        ("dispatch.ports", "dispatch.core", "geo", "dispatch.telemetry"),
        frozenset({"starlette", "asyncpg", "aiosqlite", "redis"}),
    ),
    "dispatch.settings": ((), IO),
    # the metrics, log lines and request ids: a leaf every impure layer may
    # call (one-line hooks), importing no other dispatch package
    "dispatch.telemetry": ((), IO),
    "dispatch.wiring": ((*BELOW_EDGE, "dispatch.settings", "dispatch.telemetry"), frozenset({"starlette", "uvicorn"})),
    "dispatch.http": (
        (
            "dispatch.wiring",
            "dispatch.settings",
            "dispatch.telemetry",
            "dispatch.live",
            "dispatch.usecases",
            "dispatch.ports",
            "dispatch.core",
            "geo",
        ),
        frozenset({"asyncpg", "aiosqlite", "redis"}),
    ),
    "dispatch.cli": (("dispatch", "geo"), frozenset()),  # the top: anything
}
# The package itself and `python -m dispatch`, which calls the CLI.
ROOT_MODULES = {"dispatch": ("dispatch.cli",), "dispatch.__main__": ("dispatch.cli",)}


def module_name(path: Path) -> str:
    rel = path.relative_to(REPO_ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def layer_of(module: str) -> str | None:
    """The most specific layer whose name is the module or a package above it."""
    if module in ROOT_MODULES:
        return module
    for layer in sorted(LAYERS, key=len, reverse=True):
        if module == layer or module.startswith(layer + "."):
            return layer
    return None


def imported(source: str) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            # `from dispatch import live` imports the package dispatch.live
            if node.module in ("dispatch", "dispatch.core", "dispatch.http", "dispatch.live", "dispatch.cli"):
                names += [f"{node.module}.{a.name}" for a in node.names]
    return names


def violations(module: str, source: str) -> list[str]:
    layer = layer_of(module)
    if layer is None:
        return [f"{module} belongs to no layer: add its package to LAYERS in tests/test_purity.py"]
    allowed, forbidden = (ROOT_MODULES[layer], frozenset()) if layer in ROOT_MODULES else LAYERS[layer]
    out = []
    for name in imported(source):
        top = name.split(".")[0]
        if top in forbidden:
            out.append(f"{module} ({layer}) imports {name}")
        if top in ("dispatch", "geo"):
            target = layer_of(name)
            if target != layer and not any(name == a or name.startswith(a + ".") for a in allowed):
                out.append(f"{module} ({layer}) imports {name} ({target})")
    return out


MODULES = sorted([*(REPO_ROOT / "geo").rglob("*.py"), *(REPO_ROOT / "dispatch").rglob("*.py")])


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_module_imports_only_the_layers_below(path: Path) -> None:
    assert violations(module_name(path), path.read_text()) == []


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("dispatch.core.scoring", "import asyncio"),
        ("dispatch.core.model", "from dispatch.ports.store import Store"),
        ("geo.city", "from dispatch.core.model import Alert"),
        ("dispatch.ports.bus", "from dispatch.adapters import open_bus"),
        ("dispatch.usecases.alerts", "from dispatch.adapters.store_sqlite import SqliteStore"),
        ("dispatch.usecases.alerts", "from dispatch.live.sequencer import Sequencer"),
        ("dispatch.usecases.alerts", "from starlette.requests import Request"),
        ("dispatch.live.hub", "from dispatch.usecases.alerts import Alerts"),
        ("dispatch.live.hub", "from dispatch.http.app_state import services"),
        ("dispatch.adapters.bus_redis", "from dispatch.usecases.sessions import Sessions"),
        ("dispatch.wiring", "from dispatch.http.app import create_app"),
        ("dispatch.http.api", "from dispatch.adapters import open_store"),
        ("dispatch.http.api", "from dispatch.cli.commands import migrate"),
        ("dispatch.settings", "from dispatch.core.model import User"),
        ("dispatch.newlayer.thing", "import os"),
    ],
)
def test_a_wrong_import_is_caught(module: str, source: str) -> None:
    """The checker itself: each of these crosses a layer the wrong way."""
    assert violations(module, source), f"{module}: {source!r} was not caught"


def test_a_right_import_passes() -> None:
    assert violations("dispatch.http.api", "from dispatch.usecases.alerts import Alerts\nimport starlette") == []
    assert (
        violations("dispatch.adapters.store_sqlite", "import aiosqlite\nfrom dispatch.ports.store import Store") == []
    )


def test_every_package_says_what_it_may_import() -> None:
    for init in sorted((REPO_ROOT / "dispatch").glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert "May import" in doc, f"{init.relative_to(REPO_ROOT)} has no 'May import:' line in its docstring"
