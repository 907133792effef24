"""The tree stays readable (docs/architecture.md): modules small enough to
hold one idea, functions short enough to read at once, one name per idea."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest

from dispatch.settings import REPO_ROOT

# Starlette's median module is about 140 lines: 400 is where one idea per
# module has likely been lost. 60 lines is a screenful.
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60

SOURCES = sorted([*(REPO_ROOT / "dispatch").rglob("*.py"), *(REPO_ROOT / "geo").rglob("*.py")])
PACKAGES = {p.name for p in (REPO_ROOT / "dispatch").rglob("*") if p.is_dir() and (p / "__init__.py").exists()}
PACKAGES |= {"dispatch", "geo"}


def _rel(p: Path) -> str:
    return str(p.relative_to(REPO_ROOT))


def long_functions(source: str, limit: int = MAX_FUNCTION_LINES) -> list[tuple[str, int]]:
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > limit:
                out.append((node.name, length))
    return out


def one_letter_apart(a: str, b: str) -> bool:
    """Edit distance exactly 1: one letter added, removed or changed."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b)) == 1
    short, long_ = sorted((a, b), key=len)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


@pytest.mark.parametrize("path", SOURCES, ids=_rel)
def test_module_is_small(path: Path) -> None:
    lines = path.read_text().count("\n")
    assert lines <= MAX_MODULE_LINES, f"{_rel(path)} has {lines} lines: split it by responsibility"


@pytest.mark.parametrize("path", SOURCES, ids=_rel)
def test_functions_are_short(path: Path) -> None:
    assert long_functions(path.read_text()) == []


def test_no_two_modules_differ_by_one_letter() -> None:
    stems = sorted({p.stem for p in SOURCES if p.stem != "__init__"} | PACKAGES)
    close = [(a, b) for a, b in itertools.combinations(stems, 2) if one_letter_apart(a, b)]
    assert close == []


def test_no_class_is_named_after_its_package() -> None:
    bad = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.name.lower() in PACKAGES:
                bad.append(f"{_rel(path)}: class {node.name}")
    assert bad == []


def test_the_checks_catch_what_they_claim() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    assert long_functions(f"def f():\n{body}\n") == [("f", MAX_FUNCTION_LINES + 1)]
    assert long_functions("def f():\n    return 1\n") == []
    assert one_letter_apart("service", "services") and one_letter_apart("hub", "hug")
    assert not one_letter_apart("alerts", "alerts") and not one_letter_apart("bus_redis", "bus_memory")
