"""The deployment files name only things that exist: the guide's environment
file, applied to a config copied out of the checkout (as the guide does, to
/etc/dispatch), gives a server whose city files are found; every config
variable the guide and the compose file set is a real key; the Dockerfile
copies only what the repository has. (No container engine here: the images
themselves are not built by the tests.)"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from dispatch.settings import KEYS, load_settings
from geo import load_city
from tests.support import REPO

DEPLOY = REPO / "deploy"
ENV_NAMES = {f"DISPATCH_{section}_{key}".upper() for section, key in KEYS}


def guide_env() -> dict[str, str]:
    """The lines of the guide's `cat > /etc/dispatch/env <<'ENV'` block, with
    the checkout at /opt/dispatch moved to this one."""
    text = (DEPLOY / "README.md").read_text()
    block = text.split("<<'ENV'\n", 1)[1].split("\nENV\n", 1)[0]
    pairs = (line.split("=", 1) for line in block.splitlines() if line and not line.startswith("#"))
    return {k: v.replace("/opt/dispatch", str(REPO)) for k, v in pairs}


def test_the_guides_environment_finds_the_city_from_a_config_outside_the_checkout(tmp_path: Path) -> None:
    etc = tmp_path / "etc-dispatch"
    etc.mkdir()
    shutil.copy(REPO / "config.toml", etc / "config.toml")
    env = guide_env()
    assert set(env) <= ENV_NAMES, set(env) - ENV_NAMES
    settings = load_settings(etc / "config.toml", env=env)
    assert settings.database_url.startswith("postgresql://") and settings.bus_url.startswith("redis://")
    assert settings.city_streets is not None and settings.city_streets.is_file()
    assert load_city(settings.city_sectors).sectors, "the city has no sectors"
    for path in (settings.proofs_dir, settings.notify_vapid_key):
        assert str(path).startswith(str(REPO / "var")), f"{path} is outside the service's writable var/"


def test_the_compose_file_sets_only_real_config_keys_and_mounts_what_exists() -> None:
    compose = (DEPLOY / "docker" / "compose.yaml").read_text()
    names = set(re.findall(r"^\s+(DISPATCH_[A-Z_]+):", compose, re.M))
    assert names and names <= ENV_NAMES, names - ENV_NAMES
    for mount in re.findall(r"^\s+- (\.\./[^:]+):", compose, re.M):
        assert (DEPLOY / "docker" / mount).resolve().exists(), mount
    assert {"app:", "nginx:", "postgres:", "redis:"} <= {line.strip() for line in compose.splitlines()}


def test_the_dockerfile_copies_only_what_the_repository_has() -> None:
    sources = []
    for line in (DEPLOY / "docker" / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            sources += line.split()[1:-1]
    assert sources
    for src in sources:
        assert (REPO / src).exists(), src
