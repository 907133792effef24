"""Docs that tests keep true: every WebSocket message type the server can
send, every close code, and every config key is documented."""

from __future__ import annotations

from pathlib import Path

from dispatch.core.events import OPS_TYPES, RESIDENT_MESSAGES
from dispatch.live.frames import CLOSE_TOO_SLOW
from dispatch.settings import KEYS, REPO_ROOT


def documentation() -> str:
    return (REPO_ROOT / "README.md").read_text()


def test_every_message_type_is_documented() -> None:
    docs = documentation()
    for message_type in [*OPS_TYPES, *RESIDENT_MESSAGES.values(), "resync"]:
        assert f"`{message_type}`" in docs, f"{message_type} is not documented"


def test_close_code_is_documented() -> None:
    assert f"`{CLOSE_TOO_SLOW}`" in documentation()


def test_config_keys_are_in_the_shipped_config() -> None:
    shipped = (REPO_ROOT / "config.toml").read_text()
    for section, key in KEYS:
        assert f"[{section}]" in shipped and f"\n{key} =" in shipped, f"{section}.{key}"


def test_readme_has_the_two_commands() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    assert "<!-- run-command -->" in readme and "<!-- test-command -->" in readme
    assert Path(REPO_ROOT / ".ci" / "run").exists()
