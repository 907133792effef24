"""Request bodies -> validated values, or an InputError that the server turns
into the contract's error shape. Pure: no framework types."""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from dispatch.core.categories import CATEGORIES
from dispatch.core.lifecycle import STATUSES
from dispatch.core.model import BROADCAST_LEVELS, UNIT_STATUSES, Circle
from dispatch.core.zones import ZoneError, area_m2, parse_polygon
from geo.polygon import Polygon

MAX_BODY = 64 * 1024
MAX_TEXT = 1000
# ids are SQL BIGINT on both stores (signed 64-bit, in SQLite too): a larger
# number names nothing, and must not reach a driver that overflows on it
MAX_ID = 2**63 - 1
# what a date-time may be: the Unix epoch (nothing here is older) to well
# before year 9999, so that a window 30 days wide and any UTC offset stay
# inside Python's datetime range on either side
MIN_TIME = datetime(1970, 1, 1, tzinfo=UTC)
MAX_TIME = datetime(9000, 1, 1, tzinfo=UTC)


class InputError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            err["field"] = self.field
        return {"error": err}


class RateLimited(InputError):
    """429 `rate_limited`; the server sends `retry_after` (whole seconds, at
    least 1) as the Retry-After header."""

    def __init__(self, retry_after_s: float, message: str) -> None:
        super().__init__(429, "rate_limited", message)
        self.retry_after = max(1, math.ceil(retry_after_s))


def parse_json_object(raw: bytes) -> dict[str, Any]:
    if len(raw) > MAX_BODY:
        raise InputError(413, "body_too_large", f"the body is over {MAX_BODY // 1024} KiB")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InputError(400, "malformed_json", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InputError(400, "not_an_object", "the body must be a JSON object")
    # JSON can carry U+0000 only as the escape \u0000: no escape, no NUL
    if b"\\u0000" in raw:
        for key, value in data.items():
            if _holds_nul(key) or _holds_nul(value):
                raise _nul_refused(key.replace("\x00", "\\0"))
    return data


def _holds_nul(value: Any) -> bool:
    """Whether a NUL is in any string or key of a decoded JSON value; a loop,
    not recursion: orjson nests up to 1024 deep, past Python's recursion limit."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def whole_number(raw: str) -> int | None:
    """`raw` as a non-negative integer if it is ASCII digits alone, else
    None. Not str.isdigit(), which is true of '²' (that int() refuses) and
    of '٣' (that int() reads as 3)."""
    if not raw.isascii() or not raw.isdigit():
        return None
    return int(raw)


def bounded_int(raw: str, key: str, lo: int, hi: int) -> int:
    """A query parameter that is a whole number within [lo, hi]; anything
    else (a sign, a decimal point, an exponent, blanks) is 422 out_of_range."""
    value = whole_number(raw)
    if value is None or not lo <= value <= hi:
        raise InputError(422, "out_of_range", f"{key} must be a whole number between {lo} and {hi}", key)
    return value


def query_choice(q: dict[str, str], key: str, allowed: Collection[str], default: str | None = None) -> str | None:
    """A filter that names one of `allowed` (else 422 unknown_<key>), or
    `default` when absent: status, sector, category, action, format."""
    value = q.get(key, default)
    if value is not None and value not in allowed:
        raise InputError(422, f"unknown_{key}", f"unknown {key} {value[:40]!r}", key)
    return value


def limit_param(q: dict[str, str], default: int, hi: int) -> int:
    """The `limit` of a listing: 1 to `hi`, `default` when absent. Every
    listing answers a bad one alike: 422 out_of_range, never a clamp."""
    return bounded_int(q["limit"], "limit", 1, hi) if "limit" in q else default


def parse_time(raw: str, key: str) -> datetime:
    """ISO 8601 (as Python reads it); a time without offset is UTC. Returned
    in UTC, within [MIN_TIME, MAX_TIME] (else 422 out_of_range)."""
    try:
        ts = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        ts = (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        raise InputError(422, "invalid_type", f"{key} must be an ISO 8601 date-time", key) from None
    if not MIN_TIME <= ts <= MAX_TIME:
        raise InputError(422, "out_of_range", f"{key} must be between 1970 and 9000", key)
    return ts


def _reject_unknown(data: dict[str, Any], allowed: frozenset[str]) -> None:
    for key in data:
        if key not in allowed:
            raise InputError(422, "unknown_field", f"unknown field {key!r}", key)


def _require(data: dict[str, Any], key: str) -> Any:
    if key not in data or data[key] is None:
        raise InputError(422, "missing_field", f"{key} is required", key)
    return data[key]


def _number(value: Any, key: str, lo: float, hi: float) -> float:
    # bool is an int subclass in Python, but true is not a latitude
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(422, "invalid_type", f"{key} must be a number", key)
    number = float(value)
    if not math.isfinite(number) or not lo <= number <= hi:
        raise InputError(422, "out_of_range", f"{key} must be between {lo:g} and {hi:g}", key)
    return number


def _string(value: Any, key: str, max_len: int, min_len: int = 0) -> str:
    if not isinstance(value, str):
        raise InputError(422, "invalid_type", f"{key} must be a string", key)
    if "\x00" in value:  # PostgreSQL text cannot hold it (a 500 there, stored by SQLite): refused on both
        raise InputError(422, "invalid_character", f"{key} must not contain a NUL character", key)
    if len(value) > max_len:
        raise InputError(422, "too_long", f"{key} is longer than {max_len} characters", key)
    if len(value.strip()) < min_len:
        raise InputError(422, "too_short", f"{key} must not be empty", key)
    return value


def no_nul(value: str, key: str) -> str:
    """One rule for both stores: PostgreSQL's text cannot hold U+0000 (SQLite
    would), so a NUL anywhere in a text (a JSON body's, a form's) is refused
    before anything is kept."""
    if "\x00" in value:
        raise _nul_refused(key)
    return value


def _nul_refused(key: str) -> InputError:
    return InputError(422, "invalid_character", f"{key} must not contain a NUL character", key)


def is_id(value: Any) -> bool:
    """A JSON number that can name a stored row (1 to MAX_ID; not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def latlon(data: dict[str, Any], lat_key: str = "lat", lon_key: str = "lon") -> tuple[float, float]:
    return (
        _number(_require(data, lat_key), lat_key, -90, 90),
        _number(_require(data, lon_key), lon_key, -180, 180),
    )


@dataclass(frozen=True)
class AlertInput:
    category: str
    lat: float
    lon: float
    text: str
    client_id: str | None


_ALERT_FIELDS = frozenset({"category", "lat", "lon", "text", "client_id"})


def alert_input(data: dict[str, Any]) -> AlertInput:
    _reject_unknown(data, _ALERT_FIELDS)
    category = _string(_require(data, "category"), "category", 64)
    if category not in CATEGORIES:
        raise InputError(422, "unknown_category", f"unknown category {category!r}", "category")
    lat, lon = latlon(data)
    text = _string(data["text"], "text", MAX_TEXT) if data.get("text") is not None else ""
    client_id = None
    if data.get("client_id") is not None:
        client_id = _string(data["client_id"], "client_id", 128, 1)
    return AlertInput(category, lat, lon, text, client_id)


@dataclass(frozen=True)
class AlertPatch:
    status: str | None = None
    priority: float | None = None
    assignee: str | None = None
    clear_assignee: bool = False
    note: str | None = None


_PATCH_FIELDS = frozenset({"status", "priority", "assignee", "note"})


def _patch_common(data: dict[str, Any], allowed: frozenset[str]) -> tuple[str | None, float | None, str | None]:
    """What alert and incident patches share: status, priority, note."""
    _reject_unknown(data, allowed)
    if not data:
        raise InputError(422, "empty_patch", "nothing to change")
    status = None
    if "status" in data:
        status = _string(data["status"], "status", 32)
        if status not in STATUSES:
            raise InputError(422, "unknown_status", f"unknown status {status!r}", "status")
    priority = _number(data["priority"], "priority", 0, 1000) if "priority" in data else None
    note = _string(data["note"], "note", MAX_TEXT, 1) if "note" in data else None
    return status, priority, note


def alert_patch(data: dict[str, Any]) -> AlertPatch:
    status, priority, note = _patch_common(data, _PATCH_FIELDS)
    assignee, clear = None, False
    if "assignee" in data:
        if data["assignee"] is None:
            clear = True
        else:
            assignee = _string(data["assignee"], "assignee", 100, 1)
    return AlertPatch(status, priority, assignee, clear, note)


@dataclass(frozen=True)
class BroadcastInput:
    sectors: tuple[str, ...] | None
    circle: Circle | None
    text: str
    level: str
    polygon: Polygon | None = None


_TARGETS = ("sectors", "circle", "polygon")
_BROADCAST_FIELDS = frozenset({*_TARGETS, "text", "level"})


def broadcast_input(data: dict[str, Any], sector_ids: tuple[str, ...], min_circle_m: float = 0) -> BroadcastInput:
    """A circle smaller than `min_circle_m` (privacy.min_circle_m), or a
    polygon of smaller area than that circle, is refused, so that a
    preview's count cannot locate one home."""
    _reject_unknown(data, _BROADCAST_FIELDS)
    text = _string(_require(data, "text"), "text", MAX_TEXT, 1)
    level = _string(_require(data, "level"), "level", 16)
    if level not in BROADCAST_LEVELS:
        raise InputError(422, "unknown_level", "level must be info, warning or urgent", "level")
    given = [t for t in _TARGETS if t in data]
    if len(given) != 1:
        raise InputError(422, "missing_field", "give exactly one target: sectors, circle or polygon", "sectors")
    if given == ["circle"]:
        return BroadcastInput(None, _circle(data["circle"], min_circle_m), text, level)
    if given == ["polygon"]:
        return BroadcastInput(None, None, text, level, _polygon(data["polygon"], min_circle_m))
    raw = data["sectors"]
    if raw == "all":
        return BroadcastInput(tuple(sector_ids), None, text, level)
    if not isinstance(raw, list) or not raw or not all(isinstance(s, str) for s in raw):
        raise InputError(422, "invalid_type", 'sectors must be "all" or a non-empty list of sector ids', "sectors")
    for s in raw:
        if s not in sector_ids:
            raise InputError(422, "unknown_sector", f"unknown sector {s!r}", "sectors")
    return BroadcastInput(tuple(dict.fromkeys(raw)), None, text, level)


def _circle(c: Any, min_circle_m: float) -> Circle:
    if not isinstance(c, dict):
        raise InputError(422, "invalid_type", "circle must be an object", "circle")
    _reject_unknown(c, frozenset({"lat", "lon", "radius_m"}))
    lat, lon = latlon(c)
    radius = _number(_require(c, "radius_m"), "radius_m", 1, 50_000)
    if radius < min_circle_m:
        raise InputError(422, "area_too_small", f"a circle needs a radius of at least {min_circle_m:g} m", "radius_m")
    return Circle(lat, lon, radius)


def _polygon(raw: Any, min_circle_m: float) -> Polygon:
    try:
        polygon = parse_polygon(raw)
    except ZoneError as e:
        raise InputError(422, e.code, str(e), "polygon") from None
    if area_m2(polygon) < math.pi * min_circle_m * min_circle_m:
        raise InputError(
            422, "area_too_small", f"a polygon needs the area of a circle of {min_circle_m:g} m radius", "polygon"
        )
    return polygon


def login_input(data: dict[str, Any]) -> tuple[str, str, bool]:
    """(email, password, wall): `"wall": true` asks for a wall screen's
    session (read-only, no idle timeout; staff only)."""
    _reject_unknown(data, frozenset({"email", "password", "wall"}))
    email = _string(_require(data, "email"), "email", 254, 1)
    password = _string(_require(data, "password"), "password", 1024, 1)
    wall = data.get("wall", False)
    if not isinstance(wall, bool):
        raise InputError(422, "invalid_type", "wall must be true or false", "wall")
    return email.strip().lower(), password, wall


def erasure_input(data: dict[str, Any]) -> str:
    """DELETE /api/me: the account's password, entered again."""
    _reject_unknown(data, frozenset({"password"}))
    return _string(_require(data, "password"), "password", 1024, 1)


_INCIDENT_PATCH_FIELDS = frozenset({"status", "priority", "unpin", "unit", "note"})


@dataclass(frozen=True)
class IncidentPatch:
    status: str | None = None
    priority: float | None = None
    unpin: bool = False
    unit: int | None = None
    clear_unit: bool = False
    note: str | None = None


def incident_patch(data: dict[str, Any]) -> IncidentPatch:
    status, priority, note = _patch_common(data, _INCIDENT_PATCH_FIELDS)
    unpin = False
    if "unpin" in data:
        if not isinstance(data["unpin"], bool):
            raise InputError(422, "invalid_type", "unpin must be true or false", "unpin")
        unpin = data["unpin"]
    unit, clear_unit = None, False
    if "unit" in data:
        if data["unit"] is None:
            clear_unit = True
        elif not is_id(data["unit"]):
            raise InputError(422, "invalid_type", "unit must be a unit id or null", "unit")
        else:
            unit = data["unit"]
    return IncidentPatch(status, priority, unpin, unit, clear_unit, note)


def id_list(data: dict[str, Any], key: str) -> list[int]:
    _reject_unknown(data, frozenset({key}))
    raw = _require(data, key)
    if not isinstance(raw, list) or not raw or not all(is_id(i) for i in raw):
        raise InputError(422, "invalid_type", f"{key} must be a non-empty list of ids", key)
    return list(dict.fromkeys(raw))


def unit_input(data: dict[str, Any]) -> str:
    _reject_unknown(data, frozenset({"name"}))
    return _string(_require(data, "name"), "name", 64, 1).strip()


def unit_status_input(data: dict[str, Any]) -> str:
    _reject_unknown(data, frozenset({"status"}))
    status = _string(_require(data, "status"), "status", 16)
    if status not in UNIT_STATUSES:
        raise InputError(422, "unknown_status", "status must be available, busy or off_duty", "status")
    return status


MAX_SMS_TEXT = 1600  # ten concatenated segments: longer is no text message
_SMS_FIELDS = frozenset({"from", "text"})


def sms_inbound_input(data: dict[str, Any]) -> tuple[str, str]:
    """POST /api/sms/inbound: (the sender's number as the gateway wrote it, the text)."""
    _reject_unknown(data, _SMS_FIELDS)
    return _string(_require(data, "from"), "from", 32, 1), _string(_require(data, "text"), "text", MAX_SMS_TEXT)
