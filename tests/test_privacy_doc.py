"""docs/privacy.md (the register entry) lists every retention key with its
shipped default, and nothing else: in step with config.toml and the
settings, both ways."""

from __future__ import annotations

import re
import tomllib

from dispatch.settings import KEYS, REPO_ROOT, load_settings

DOC = (REPO_ROOT / "docs" / "privacy.md").read_text(encoding="utf-8")


def documented() -> dict[str, str]:
    return dict(re.findall(r"^\| `(retention\.[a-z_]+)` \| ([0-9.]+) \|", DOC, re.M))


def test_every_retention_period_is_in_the_register_with_its_default() -> None:
    shipped = tomllib.loads((REPO_ROOT / "config.toml").read_text(encoding="utf-8"))["retention"]
    periods = {f"retention.{k}": v for k, v in shipped.items() if k.endswith("_days")}
    assert {k: float(v) for k, v in documented().items()} == {k: float(v) for k, v in periods.items()}


def test_the_settings_read_every_period_the_register_lists() -> None:
    read = {f"{s}.{k}" for s, k in KEYS if s == "retention" and k.endswith("_days")}
    assert set(documented()) == read
    settings = load_settings(REPO_ROOT / "config.toml", env={})
    for key, days in documented().items():
        assert getattr(settings, key.replace(".", "_")) == float(days), key


def test_the_register_names_the_rights_and_a_dpo() -> None:
    for needle in ("GET /api/me/export", "DELETE /api/me", "DPO", "Finalités", "Destinataires"):
        assert needle in DOC
