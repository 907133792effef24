"""Accounts as the town brings them in: every row checked (role, e-mail,
password against dispatch.core.passwords, home) before anything is written, so a bad row names its line and
nothing is imported. The CLI (dispatch.cli.commands) is the caller."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from dispatch.core.model import RESIDENT_ROLES, ROLES, NewUser
from dispatch.core.passwords import check_password
from dispatch.core.validation import InputError
from geo import City


class RowError(ValueError):
    pass


@dataclass(frozen=True)
class AccountRow:
    role: str
    email: str
    password: str
    name: str
    lat: float | None
    lon: float | None


def _coord(raw: str | float | None, name: str, limit: float) -> float | None:
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return None
    try:
        value = float(raw)
    except ValueError:
        raise RowError(f"{name} {raw!r} is not a number") from None
    if not math.isfinite(value) or not -limit <= value <= limit:
        raise RowError(f"{name} must be between {-limit:g} and {limit:g}")
    return value


def check_account(role: str, email: str, password: str, name: str, lat: object, lon: object) -> AccountRow:
    if role not in ROLES:
        raise RowError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    email = (email or "").strip().lower()
    if "@" not in email or len(email) > 254:
        raise RowError(f"{email!r} is not an email address")
    try:
        check_password(password, email, name or "")
    except InputError as exc:
        raise RowError(exc.message) from None
    la, lo = _coord(lat, "lat", 90), _coord(lon, "lon", 180)  # type: ignore[arg-type]
    if (la is None) != (lo is None):
        raise RowError("give both lat and lon, or neither")
    if role in RESIDENT_ROLES and la is None:
        raise RowError("a resident needs a home: lat and lon")
    return AccountRow(role, email, password, name or "", la, lo)


def new_user(row: AccountRow, password_hash: str, city: City) -> NewUser:
    sector = city.sector_of(row.lat, row.lon) if row.lat is not None and row.lon is not None else None
    return NewUser(row.role, row.email, password_hash, row.name, row.lat, row.lon, sector, validated=True)


def read_accounts(path: Path) -> list[AccountRow]:
    """Every row checked before anything is written; errors name the line."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        expected = ["role", "email", "password", "name", "lat", "lon"]
        if reader.fieldnames is None or [f.strip() for f in reader.fieldnames] != expected:
            raise RowError(f"line 1: the header must be {','.join(expected)}")
        rows = []
        for record in reader:
            line = reader.line_num
            if None in record or any(v is None for v in record.values()):
                raise RowError(f"line {line}: expected 6 columns")
            try:
                rows.append(check_account(*(record[k].strip() for k in expected)))
            except RowError as exc:
                raise RowError(f"line {line}: {exc}") from None
        return rows
