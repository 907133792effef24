"""Settings: config.toml plus DISPATCH_<SECTION>_<KEY>, documented keys, masked secrets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dispatch.settings import KEYS, REPO_ROOT, ConfigError, load_settings


def test_shipped_config_is_the_embedded_default() -> None:
    s = load_settings(REPO_ROOT / "config.toml", env={})
    assert s.database_url.startswith("sqlite:///") and "/var/" in s.database_url
    assert s.bus_url == "memory://"
    assert s.city_sectors.exists() and s.city_sectors.name == "narbonne.geojson"
    assert s.alerts_radius_m == 500
    assert s.server_allowed_origins == ()


def test_environment_overrides_every_key_type() -> None:
    env = {
        "DISPATCH_DATABASE_URL": "postgresql://postgres:s3cret@127.0.0.1:5432/test",
        "DISPATCH_BUS_URL": "redis://127.0.0.1:6379/0",
        "DISPATCH_ALERTS_RADIUS_M": "750",
        "DISPATCH_SERVER_ALLOWED_ORIGINS": "https://a.example, https://b.example",
        "DISPATCH_CITY_SECTORS": "/tmp/other.geojson",
        "DISPATCH_SERVER_PORT": "9000",
    }
    s = load_settings(REPO_ROOT / "config.toml", env=env)
    assert s.database_url.startswith("postgresql://") and s.bus_url.startswith("redis://")
    assert s.alerts_radius_m == 750.0 and s.server_port == 9000
    assert s.server_allowed_origins == ("https://a.example", "https://b.example")
    assert s.city_sectors == Path("/tmp/other.geojson")
    assert "s3cret" not in repr(s)


def test_bad_values_are_named() -> None:
    with pytest.raises(ConfigError, match="alerts.radius_m"):
        load_settings(REPO_ROOT / "config.toml", env={"DISPATCH_ALERTS_RADIUS_M": "far"})
    with pytest.raises(ConfigError, match="database.url"):
        load_settings(REPO_ROOT / "config.toml", env={"DISPATCH_DATABASE_URL": "mysql://x"})
    with pytest.raises(ConfigError, match="not found"):
        load_settings("/nonexistent/config.toml", env={})


def test_every_key_is_in_the_shipped_config_and_documented() -> None:
    """Docs that tests keep true: each key we read ships in config.toml, and
    the contract's keys are all there."""
    text = (REPO_ROOT / "config.toml").read_text()
    sections = dict(
        re.findall(r"^\[(\w+)\]", text, re.M) and [(m, True) for m in re.findall(r"^\[(\w+)\]", text, re.M)]
    )
    for section, key in KEYS:
        assert section in sections, section
        assert re.search(rf"^{key}\s*=", text, re.M), f"{section}.{key} missing from config.toml"
    for required in [
        ("database", "url"),
        ("bus", "url"),
        ("city", "sectors"),
        ("alerts", "radius_m"),
        ("server", "allowed_origins"),
    ]:
        assert required in KEYS
