"""One frozen settings object, built once at start-up from config.toml plus
DISPATCH_<SECTION>_<KEY> environment variables. Nothing else reads the
environment."""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO_ROOT / "config.toml"
CONFIG_ENV = "DISPATCH_CONFIG"  # lets `serve --workers N` hand the path to its workers


class ConfigError(Exception):
    pass


def _mask_url(url: str) -> str:
    # postgresql://user:secret@host -> postgresql://user:***@host
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        if ":" in creds:
            creds = creds.split(":", 1)[0] + ":***"
        return f"{scheme}://{creds}@{host}"
    return url


@dataclass(frozen=True)
class Settings:
    database_url: str
    database_pool_size: int
    bus_url: str
    bus_prefix: str
    city_name: str
    city_sectors: Path
    city_cell_resolution: int
    city_streets: Path | None
    alerts_radius_m: float
    server_host: str
    server_port: int
    server_workers: int
    server_allowed_origins: tuple[str, ...]
    server_session_ttl_hours: float
    server_idle_minutes: float
    server_public_url: str
    limits_lockout_minutes: float
    limits_login_failures_per_account: int
    limits_login_failures_per_address: int
    limits_login_window_minutes: float
    limits_alerts_per_window: int
    limits_flags_per_window: int
    limits_window_minutes: float
    limits_sockets_per_account: int
    stream_replay_max: int
    stream_send_queue_bytes: int
    map_tile_url: str
    map_attribution: str
    privacy_min_circle_m: float
    broadcasts_history_days: float
    proofs_dir: Path
    notify_smtp_host: str = ""
    notify_smtp_port: int = 25
    notify_smtp_from: str = "no-reply@localhost"
    notify_smtp_tls: str = "none"
    notify_smtp_user: str = ""
    notify_smtp_password: str = ""
    notify_sms_url: str = ""
    notify_sms_token: str = ""
    notify_sms_secret: str = ""
    notify_sms_number: str = ""
    notify_sms_max_segments: int = 2
    notify_vapid_key: Path = Path("var/vapid.pem")
    notify_vapid_subject: str = "mailto:no-reply@localhost"
    notify_batch: int = 200
    notify_concurrency: int = 50
    notify_lease_s: float = 60.0
    notify_poll_s: float = 1.0
    notify_retry_base_s: float = 2.0
    notify_retry_cap_s: float = 300.0
    notify_max_attempts: int = 50
    server_tls_cert: str = ""
    server_tls_key: str = ""
    retention_alert_detail_days: float = 90
    retention_proof_days: float = 30
    retention_account_days: float = 30
    retention_session_days: float = 30
    retention_audit_days: float = 365
    retention_outbox_days: float = 30
    retention_purge_every_hours: float = 24
    metrics_token: str = ""
    log_level: str = "info"
    triage: Mapping[str, Any] = field(default_factory=dict)
    config_path: Path = DEFAULT_CONFIG

    def __repr__(self) -> str:
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        fields["database_url"] = _mask_url(self.database_url)
        fields["bus_url"] = _mask_url(self.bus_url)
        for secret in ("notify_smtp_password", "notify_sms_token", "notify_sms_secret", "metrics_token"):
            if fields[secret]:
                fields[secret] = "***"
        inner = ", ".join(f"{k}={v!r}" for k, v in fields.items())
        return f"Settings({inner})"

    @property
    def https(self) -> bool:
        """Browsers reach the server over https: server.public_url says so,
        or serve terminates TLS itself (server.tls_cert)."""
        return self.server_public_url.startswith("https://") or bool(self.server_tls_cert)

    @property
    def session_cookie(self) -> str:
        """The session cookie's name: with the __Host- prefix over https
        (RFC 6265bis 4.1.3.2: Secure, Path=/, no Domain, so no other host or
        path can set or shadow it); the plain name over http, where a
        browser refuses a __Host- cookie (http://127.0.0.1 must keep working)."""
        return "__Host-dispatch_session" if self.https else "dispatch_session"

    @property
    def sqlite_path(self) -> Path:
        return Path(self.database_url.removeprefix("sqlite:///"))

    def browser_origins(self) -> frozenset[str]:
        """The origins a browser may write from with the session cookie, and
        open the streams from: server.allowed_origins, or when it is empty
        the server's own (server.public_url, else derived from host and
        port). Never the request's Host header, which the client writes."""
        if self.server_allowed_origins:
            return frozenset(normal_origin(o) for o in self.server_allowed_origins)
        if self.server_public_url:
            return frozenset({normal_origin(self.server_public_url)})
        host = self.server_host.strip("[]").lower()
        names = ["127.0.0.1", "localhost"] if host in _LOCAL_HOSTS else [self.server_host]
        scheme = "https" if self.server_tls_cert else "http"
        return frozenset(normal_origin(f"{scheme}://{n}:{self.server_port}") for n in names)


_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "0.0.0.0", "::", "::1", ""})
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def normal_origin(url: str) -> str:
    """scheme://host[:port] in lower case, without path or default port: the
    form a browser sends in Origin."""
    url = url.strip().lower()
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url.rstrip("/")
    authority = rest.split("/", 1)[0]
    host, colon, port = authority.rpartition(":")
    if colon and port.isdigit() and _DEFAULT_PORTS.get(scheme) == port:
        authority = host
    return f"{scheme}://{authority}"


# (section, key) -> (attribute, type); the table documents every key we read.
KEYS: dict[tuple[str, str], tuple[str, type]] = {
    ("database", "url"): ("database_url", str),
    ("database", "pool_size"): ("database_pool_size", int),
    ("bus", "url"): ("bus_url", str),
    ("bus", "prefix"): ("bus_prefix", str),
    ("city", "name"): ("city_name", str),
    ("city", "sectors"): ("city_sectors", Path),
    ("city", "cell_resolution"): ("city_cell_resolution", int),
    ("city", "streets"): ("city_streets", str),
    ("alerts", "radius_m"): ("alerts_radius_m", float),
    ("server", "host"): ("server_host", str),
    ("server", "port"): ("server_port", int),
    ("server", "workers"): ("server_workers", int),
    ("server", "allowed_origins"): ("server_allowed_origins", tuple),
    ("server", "session_ttl_hours"): ("server_session_ttl_hours", float),
    ("server", "idle_minutes"): ("server_idle_minutes", float),
    ("server", "public_url"): ("server_public_url", str),
    ("server", "tls_cert"): ("server_tls_cert", str),
    ("server", "tls_key"): ("server_tls_key", str),
    ("limits", "lockout_minutes"): ("limits_lockout_minutes", float),
    ("limits", "login_failures_per_account"): ("limits_login_failures_per_account", int),
    ("limits", "login_failures_per_address"): ("limits_login_failures_per_address", int),
    ("limits", "login_window_minutes"): ("limits_login_window_minutes", float),
    ("limits", "alerts_per_window"): ("limits_alerts_per_window", int),
    ("limits", "flags_per_window"): ("limits_flags_per_window", int),
    ("limits", "window_minutes"): ("limits_window_minutes", float),
    ("limits", "sockets_per_account"): ("limits_sockets_per_account", int),
    ("stream", "replay_max"): ("stream_replay_max", int),
    ("stream", "send_queue_bytes"): ("stream_send_queue_bytes", int),
    ("map", "tile_url"): ("map_tile_url", str),
    ("map", "attribution"): ("map_attribution", str),
    ("privacy", "min_circle_m"): ("privacy_min_circle_m", float),
    ("broadcasts", "history_days"): ("broadcasts_history_days", float),
    ("proofs", "dir"): ("proofs_dir", Path),
    ("notify", "smtp_host"): ("notify_smtp_host", str),
    ("notify", "smtp_port"): ("notify_smtp_port", int),
    ("notify", "smtp_from"): ("notify_smtp_from", str),
    ("notify", "smtp_tls"): ("notify_smtp_tls", str),
    ("notify", "smtp_user"): ("notify_smtp_user", str),
    ("notify", "smtp_password"): ("notify_smtp_password", str),
    ("notify", "sms_url"): ("notify_sms_url", str),
    ("notify", "sms_token"): ("notify_sms_token", str),
    ("notify", "sms_secret"): ("notify_sms_secret", str),
    ("notify", "sms_number"): ("notify_sms_number", str),
    ("notify", "sms_max_segments"): ("notify_sms_max_segments", int),
    ("notify", "vapid_key"): ("notify_vapid_key", Path),
    ("notify", "vapid_subject"): ("notify_vapid_subject", str),
    ("notify", "batch"): ("notify_batch", int),
    ("notify", "concurrency"): ("notify_concurrency", int),
    ("notify", "lease_s"): ("notify_lease_s", float),
    ("notify", "poll_s"): ("notify_poll_s", float),
    ("notify", "retry_base_s"): ("notify_retry_base_s", float),
    ("notify", "retry_cap_s"): ("notify_retry_cap_s", float),
    ("notify", "max_attempts"): ("notify_max_attempts", int),
    ("retention", "alert_detail_days"): ("retention_alert_detail_days", float),
    ("retention", "proof_days"): ("retention_proof_days", float),
    ("retention", "account_days"): ("retention_account_days", float),
    ("retention", "session_days"): ("retention_session_days", float),
    ("retention", "audit_days"): ("retention_audit_days", float),
    ("retention", "outbox_days"): ("retention_outbox_days", float),
    ("retention", "purge_every_hours"): ("retention_purge_every_hours", float),
    ("metrics", "token"): ("metrics_token", str),
    ("log", "level"): ("log_level", str),
}


def _coerce(raw: Any, typ: type, name: str) -> Any:
    try:
        if typ is tuple:
            if isinstance(raw, str):
                raw = raw.strip()
                if raw.startswith("["):
                    raw = json.loads(raw)
                else:
                    raw = [p.strip() for p in raw.split(",") if p.strip()]
            return tuple(str(x) for x in raw)
        if typ is bool and isinstance(raw, str):
            return raw.strip().lower() in ("1", "true", "yes", "on")
        return typ(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"config key {name}: cannot read {raw!r} as {typ.__name__}") from exc


def load_settings(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    path = Path(path or env.get(CONFIG_ENV) or DEFAULT_CONFIG).resolve()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: {exc}") from exc
    base = path.parent
    values: dict[str, Any] = {}
    for (section, key), (attr, typ) in KEYS.items():
        name = f"{section}.{key}"
        env_name = f"DISPATCH_{section}_{key}".upper()
        if env_name in env:
            raw: Any = env[env_name]
        elif key in data.get(section, {}):
            raw = data[section][key]
        else:
            raise ConfigError(f"config file {path}: missing key {name}")
        values[attr] = _coerce(raw, typ, name)
    values["log_level"] = values["log_level"].lower()
    if values["log_level"] not in ("debug", "info", "warning", "error"):
        raise ConfigError(f"log.level must be debug, info, warning or error, got {values['log_level']!r}")
    if values["notify_smtp_tls"] not in ("none", "starttls", "tls"):
        raise ConfigError(f"notify.smtp_tls must be none, starttls or tls, got {values['notify_smtp_tls']!r}")
    # optional: the SMS intake's street gazetteer; empty means none (the home)
    values["city_streets"] = Path(values["city_streets"]) if values["city_streets"] else None
    for attr in ("city_sectors", "proofs_dir", "notify_vapid_key", "city_streets"):
        if values[attr] is not None and not values[attr].is_absolute():
            values[attr] = (base / values[attr]).resolve()
    for attr in ("server_tls_cert", "server_tls_key"):
        if values[attr] and not Path(values[attr]).is_absolute():
            values[attr] = str((base / values[attr]).resolve())
    if bool(values["server_tls_cert"]) != bool(values["server_tls_key"]):
        raise ConfigError("server.tls_cert and server.tls_key go together: give both or neither")
    for (section, key), (attr, _) in KEYS.items():
        if section == "retention" and values[attr] < 0:
            raise ConfigError(f"config key {section}.{key} must be 0 or more, got {values[attr]}")
    url = values["database_url"]
    if url.startswith("sqlite:///"):
        p = Path(url.removeprefix("sqlite:///"))
        if not p.is_absolute():
            p = (base / p).resolve()
        values["database_url"] = f"sqlite:///{p}"
    elif not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(f"database.url must start with sqlite:/// or postgresql://, got {_mask_url(url)!r}")
    if not values["bus_url"].startswith(("memory://", "redis://", "rediss://")):
        raise ConfigError(f"bus.url must start with memory:// or redis://, got {_mask_url(values['bus_url'])!r}")
    public = values["server_public_url"]
    if public and not public.startswith(("http://", "https://")):
        raise ConfigError(f"server.public_url must start with http:// or https://, got {public!r}")
    triage = dict(data.get("triage", {}))
    return Settings(**values, triage=triage, config_path=path)


def with_overrides(settings: Settings, **changes: Any) -> Settings:
    return dataclasses.replace(settings, **changes)
