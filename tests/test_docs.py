"""Docs that tests keep true. docs/reference.md documents the whole public
surface as built: every command and option of the CLI, every config key with
its environment variable and shipped default, every route of the app, every
WebSocket message type and every close code; and it documents nothing the
code lacks. The README stays short, points there, and nothing in the
repository's docs points outside it.

"Documented" means an entry of its own: a table row (or, for a command, a
heading) whose first code span names the item, in the section of
docs/reference.md where readers look for it."""

from __future__ import annotations

import argparse
import json
import re
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path

from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from dispatch.cli.main import _parser
from dispatch.core import codec
from dispatch.core.events import OPS_TYPES, RESIDENT_MESSAGES
from dispatch.http import streams
from dispatch.http.app import create_app
from dispatch.live import frames
from dispatch.live.frames import CLOSE_TOO_SLOW
from dispatch.settings import KEYS, REPO_ROOT, load_settings

README = REPO_ROOT / "README.md"
REFERENCE = REPO_ROOT / "docs" / "reference.md"
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def reference() -> str:
    return REFERENCE.read_text(encoding="utf-8")


def documentation() -> str:
    return README.read_text(encoding="utf-8") + "\n" + reference()


def section(text: str, title: str, level: int = 2) -> str:
    """The body under the heading `title` at `level`, up to the next heading
    of that level or above."""
    marks = "#" * level
    found = re.search(rf"^{marks} {re.escape(title)}\n(.*?)(?=^#{{1,{level}}} |\Z)", text, re.M | re.S)
    assert found, f"docs/reference.md has no '{marks} {title}' section"
    return found.group(1)


def rows(text: str) -> dict[str, list[str]]:
    """Table rows by their first cell's first code span -> the row's cells
    (escaped pipes `\\|` stay inside their cell)."""
    out = {}
    for line in text.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip()[1:-1])]
        out[cells[0].split("`")[1]] = cells
    return out


def path_shape(path: str) -> str:
    """/api/alerts/{alert_id} and /api/alerts/{id} are the same route."""
    return re.sub(r"\{[^}]*\}", "{}", path.split("?", 1)[0])


# -- the code's surface ------------------------------------------------------------


def _walk(routes: Iterable[object], prefix: str = "") -> Iterator[tuple[str, str]]:
    for r in routes:
        if isinstance(r, Mount):
            if isinstance(r.app, StaticFiles):
                continue  # static assets, not an API
            yield from _walk(r.routes, prefix + r.path)
        elif isinstance(r, WebSocketRoute):
            yield "WS", prefix + r.path
        elif isinstance(r, Route):
            for method in sorted((r.methods or {"GET"}) - {"HEAD"}):
                yield method, prefix + r.path
        else:
            raise AssertionError(f"a route of a kind this test does not know: {r!r}")


def app_routes() -> set[tuple[str, str]]:
    app = create_app(load_settings(REPO_ROOT / "config.toml", env={}))
    return {(method, path_shape(path)) for method, path in _walk(app.routes)}


def cli_commands() -> dict[str, argparse.ArgumentParser]:
    """'dispatch user add' -> its parser, for every leaf command."""
    out = {}

    def walk(parser: argparse.ArgumentParser, words: list[str]) -> None:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            out[" ".join(words)] = parser
        for action in subs:
            for name, sub in action.choices.items():
                walk(sub, [*words, name])

    walk(_parser(), ["dispatch"])
    return out


def close_codes() -> dict[str, int]:
    return {
        name: value
        for module in (frames, streams, codec)
        for name, value in vars(module).items()
        if name.startswith("CLOSE_") and isinstance(value, int)
    }


# -- what the reference documents -------------------------------------------------


def documented_routes() -> set[tuple[str, str]]:
    http = rows(section(reference(), "HTTP"))
    ws = rows(section(reference(), "WebSocket streams"))
    out = set()
    for span in http:
        method, _, path = span.partition(" ")
        if method in HTTP_METHODS and path.startswith("/"):
            out.add((method, path_shape(path)))
    out |= {("WS", path_shape(span)) for span in ws if span.startswith("/")}
    return out


def test_every_route_is_documented() -> None:
    missing = app_routes() - documented_routes()
    assert not missing, f"routes without a row in docs/reference.md: {sorted(missing)}"


def test_no_route_is_documented_that_does_not_exist() -> None:
    extra = documented_routes() - app_routes()
    assert not extra, f"docs/reference.md documents routes the app lacks: {sorted(extra)}"


def test_every_cli_command_and_option_is_documented() -> None:
    cli = section(reference(), "Command line")
    for command, parser in cli_commands().items():
        options = rows(section(cli, f"`{command}`", level=3))
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            names = action.option_strings or [action.dest.upper()]
            assert any(span.split(" ")[0] in names for span in options), f"{command}: {names[0]} is not documented"


def test_no_cli_command_is_documented_that_does_not_exist() -> None:
    headings = re.findall(r"^### `(dispatch[^`]*)`", section(reference(), "Command line"), re.M)
    assert headings, "no command headings in docs/reference.md"
    assert set(headings) == set(cli_commands()), set(headings) ^ set(cli_commands())


def test_every_config_key_is_documented_with_its_variable_and_default() -> None:
    config = section(reference(), "Configuration")
    assert "`DISPATCH_<SECTION>_<KEY>`" in config
    keys = rows(section(config, "Keys", level=3))
    shipped = tomllib.loads((REPO_ROOT / "config.toml").read_text(encoding="utf-8"))
    for section_name, key in KEYS:
        name = f"{section_name}.{key}"
        assert name in keys, f"{name} is not documented"
        variable, default = keys[name][1], keys[name][2]
        assert variable == f"`DISPATCH_{section_name}_{key}`".upper(), f"{name}: {variable}"
        literal = json.dumps(shipped[section_name][key], ensure_ascii=False)
        assert default == f"`{literal}`", f"{name}: documented default {default}, config.toml ships {literal}"
    assert set(keys) == {f"{s}.{k}" for s, k in KEYS}, "docs/reference.md documents keys the settings do not read"


def test_every_message_type_has_its_row_and_stream() -> None:
    messages = rows(section(section(reference(), "WebSocket streams"), "Messages", level=3))
    expected = {t: "`/ws/ops`" for t in OPS_TYPES}
    expected |= {t: "`/ws/resident`" for t in RESIDENT_MESSAGES.values()}
    expected["resync"] = "both"
    for message_type, stream in expected.items():
        assert message_type in messages, f"{message_type} has no row"
        assert messages[message_type][1] == stream, f"{message_type} is sent on {stream}"
    assert set(messages) == set(expected), "docs/reference.md documents message types the server never sends"


def test_every_close_code_has_its_row() -> None:
    codes = rows(section(section(reference(), "WebSocket streams"), "Close codes", level=3))
    for name, value in close_codes().items():
        assert str(value) in codes, f"{name} = {value} is not documented"


def test_docs_stay_inside_the_repository() -> None:
    for doc in [README, *sorted((REPO_ROOT / "docs").rglob("*.md"))]:
        assert "../shared" not in doc.read_text(encoding="utf-8"), f"{doc.relative_to(REPO_ROOT)} points outside"


def test_readme_points_to_the_reference_and_names_real_files() -> None:
    readme = README.read_text(encoding="utf-8")
    assert "(docs/reference.md)" in readme
    for doc in [README, *sorted((REPO_ROOT / "docs").rglob("*.md"))]:
        for path in re.findall(r"`((?:dispatch|geo|bench|web|tests|docs)/[\w./-]+)`", doc.read_text(encoding="utf-8")):
            assert (REPO_ROOT / path).exists(), f"{doc.relative_to(REPO_ROOT)} names {path}, which does not exist"


def test_every_message_type_is_documented() -> None:
    docs = documentation()
    for message_type in [*OPS_TYPES, *RESIDENT_MESSAGES.values(), "resync"]:
        assert f"`{message_type}`" in docs, f"{message_type} is not documented"


def test_close_code_is_documented() -> None:
    assert f"`{CLOSE_TOO_SLOW}`" in documentation()


def test_config_keys_are_in_the_shipped_config() -> None:
    shipped = (REPO_ROOT / "config.toml").read_text()
    for section_name, key in KEYS:
        assert f"[{section_name}]" in shipped and f"\n{key} =" in shipped, f"{section_name}.{key}"


def test_readme_has_the_two_commands() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    assert "<!-- run-command -->" in readme and "<!-- test-command -->" in readme
    assert Path(REPO_ROOT / ".ci" / "run").exists()
