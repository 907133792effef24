"""Joining: a resident's application (POST /api/residents) checked field by
field, and the proof of address judged from its bytes. Pure.

The proof's type is read from its first bytes (and, for a PDF, its end), never
from its name or the Content-Type the client declared: a renamed executable
is refused, whatever it is called."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import phonenumbers

from dispatch.core.validation import InputError

MAX_PROOF_BYTES = 5 * 1024 * 1024
# the whole multipart body: the proof and the few short fields around it
MAX_JOIN_BODY = MAX_PROOF_BYTES + 64 * 1024
PHONE_REGION = "FR"  # a number written without +33 is read as French

FILE_FIELDS = frozenset({"proof"})
TEXT_FIELDS = frozenset({"name", "email", "password", "address", "lat", "lon", "phone", "on_behalf_of"})
JOIN_FIELDS = FILE_FIELDS | TEXT_FIELDS
# extension of the download a moderator gets, by media type
EXTENSIONS = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}


@dataclass(frozen=True)
class JoinInput:
    name: str
    email: str
    password: str
    address: str
    lat: float
    lon: float
    phone: str | None
    on_behalf_of: str | None


def sniff_media_type(data: bytes) -> str | None:
    """application/pdf, image/jpeg or image/png, from the content alone; None
    for anything else (an ELF or PE executable, HTML, an empty file...)."""
    if data.startswith(b"%PDF-") and b"%%EOF" in data[-2048:]:
        return "application/pdf"
    # SOI, then the first segment's marker (APPn, DQT, SOF...)
    if len(data) > 4 and data[:3] == b"\xff\xd8\xff" and 0xC0 <= data[3] <= 0xFE:
        return "image/jpeg"
    # the signature, then the IHDR chunk every PNG starts with
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        return "image/png"
    return None


def check_proof(data: bytes) -> str:
    """The proof's media type, or the 4xx that refuses it."""
    if len(data) > MAX_PROOF_BYTES:
        raise InputError(413, "proof_too_large", f"the proof is over {MAX_PROOF_BYTES // (1024 * 1024)} MB", "proof")
    media_type = sniff_media_type(data)
    if media_type is None:
        raise InputError(422, "invalid_proof", "the proof must be a PDF, JPEG or PNG file", "proof")
    return media_type


def check_fields(names: Sequence[str]) -> None:
    """Every field is one the form takes, given once."""
    seen: set[str] = set()
    for name in names:
        if name not in JOIN_FIELDS:
            raise InputError(422, "unknown_field", f"unknown field {name!r}", name)
        if name in seen:
            raise InputError(422, "invalid_type", f"{name} is given more than once", name)
        seen.add(name)


def _text(fields: dict[str, str], key: str, max_len: int, required: bool = True) -> str | None:
    value = fields.get(key, "").strip()
    if not value:
        if required:
            raise InputError(422, "missing_field", f"{key} is required", key)
        return None
    if len(value) > max_len:
        raise InputError(422, "too_long", f"{key} is longer than {max_len} characters", key)
    return value


def _coordinate(fields: dict[str, str], key: str, limit: float) -> float:
    raw = _text(fields, key, 32) or ""
    try:
        value = float(raw)
    except ValueError:
        raise InputError(422, "invalid_type", f"{key} must be a number", key) from None
    if not math.isfinite(value) or not -limit <= value <= limit:
        raise InputError(422, "out_of_range", f"{key} must be between {-limit:g} and {limit:g}", key)
    return value


def e164(raw: str) -> str:
    """A phone number in E.164 (+33612345678), or 422 invalid_phone."""
    try:
        number = phonenumbers.parse(raw, PHONE_REGION)
    except phonenumbers.NumberParseException:
        raise InputError(422, "invalid_phone", "phone must be a phone number, e.g. +33612345678", "phone") from None
    if not phonenumbers.is_valid_number(number):
        raise InputError(422, "invalid_phone", "phone is not a valid phone number", "phone")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def join_input(fields: dict[str, str]) -> JoinInput:
    """The text fields of the form (the proof is checked apart)."""
    check_fields(list(fields))
    name = _text(fields, "name", 100) or ""
    email = (_text(fields, "email", 254) or "").lower()
    if "@" not in email.strip("@") or any(c.isspace() for c in email):
        raise InputError(422, "invalid_email", "email must be an e-mail address", "email")
    password = fields.get("password", "")
    if not password:
        raise InputError(422, "missing_field", "password is required", "password")
    address = _text(fields, "address", 300) or ""
    lat, lon = _coordinate(fields, "lat", 90), _coordinate(fields, "lon", 180)
    raw_phone = _text(fields, "phone", 32, required=False)
    on_behalf_of = _text(fields, "on_behalf_of", 100, required=False)
    return JoinInput(name, email, password, address, lat, lon, e164(raw_phone) if raw_phone else None, on_behalf_of)
