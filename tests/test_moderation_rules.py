"""The pure rules of joining and moderation: passwords, the application's
fields, a proof's type from its bytes, status transitions, who may act on
whom, and what a replay tells a resident about hidden alerts."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from dispatch.core.audience import resident_wants
from dispatch.core.events import RESIDENT_MESSAGES, stream_message
from dispatch.core.joining import MAX_PROOF_BYTES, check_proof, e164, join_input, sniff_media_type
from dispatch.core.model import Home, User
from dispatch.core.moderation import account_action, alert_action, may_act_on, next_status, resident_decision
from dispatch.core.passwords import check_password
from dispatch.core.validation import InputError, broadcast_input
from tests.joining_kit import real_jpeg, real_pdf, real_png

ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 200
MZ = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200


def code(exc: pytest.ExceptionInfo[InputError]) -> tuple[int, str, str | None]:
    return exc.value.status, exc.value.code, exc.value.field


def test_real_files_are_recognised_by_their_bytes() -> None:
    assert sniff_media_type(real_pdf()) == "application/pdf"
    assert sniff_media_type(real_jpeg()) == "image/jpeg"
    assert sniff_media_type(real_png()) == "image/png"


@pytest.mark.parametrize(
    "data",
    [ELF, MZ, b"", b"<html><script>alert(1)</script></html>", b"%PDF-1.4 but never ends", b"\x89PNG\r\n\x1a\n"],
)
def test_anything_else_is_refused_whatever_its_name(data: bytes) -> None:
    assert sniff_media_type(data) is None
    with pytest.raises(InputError) as exc:
        check_proof(data)
    assert code(exc) == (422, "invalid_proof", "proof")


def test_a_proof_over_5_mb_is_refused() -> None:
    big = real_pdf()[:-6] + b"\n" * (MAX_PROOF_BYTES) + b"%%EOF\n"
    with pytest.raises(InputError) as exc:
        check_proof(big)
    assert code(exc)[:2] == (413, "proof_too_large")


@pytest.mark.parametrize(
    "password",
    ["short", "123456789", "azertyuiop", "Motdepasse1", "aaaaaaaaaaaa", "ababababab", "jeanne.dupont", "JeanneDupont1"],
)
def test_weak_passwords(password: str) -> None:
    with pytest.raises(InputError) as exc:
        check_password(password, "jeanne.dupont@example.org", "Jeanne Dupont")
    assert code(exc) == (422, "weak_password", "password")


@pytest.mark.parametrize("password", ["correct horse battery staple", "Dupont aime les cerises 1987", "x7#Lq9!vB2"])
def test_sensible_passwords(password: str) -> None:
    check_password(password, "jeanne.dupont@example.org", "Jeanne Dupont")


def test_phone_numbers_are_stored_in_e164() -> None:
    assert e164("+33 6 12 34 56 78") == "+33612345678"
    assert e164("06 12 34 56 78") == "+33612345678"  # French unless told otherwise
    for bad in ("12", "+33 1", "call me", "+999 123"):
        with pytest.raises(InputError) as exc:
            e164(bad)
        assert code(exc) == (422, "invalid_phone", "phone")


GOOD = {"name": "Jo", "email": "Jo@Example.org", "password": "p", "address": "1 rue", "lat": "43.18", "lon": "3.0"}


def test_join_input() -> None:
    j = join_input({**GOOD, "phone": "", "on_behalf_of": " Mme Aînée "})
    assert (j.email, j.lat, j.lon, j.phone, j.on_behalf_of) == ("jo@example.org", 43.18, 3.0, None, "Mme Aînée")
    cases = [
        ({**GOOD, "role": "admin"}, (422, "unknown_field", "role")),
        ({k: v for k, v in GOOD.items() if k != "address"}, (422, "missing_field", "address")),
        ({**GOOD, "lat": "north"}, (422, "invalid_type", "lat")),
        ({**GOOD, "lon": "200"}, (422, "out_of_range", "lon")),
        ({**GOOD, "email": "nobody"}, (422, "invalid_email", "email")),
        ({**GOOD, "name": "x" * 101}, (422, "too_long", "name")),
    ]
    for fields, expected in cases:
        with pytest.raises(InputError) as exc:
            join_input(fields)
        assert code(exc) == expected, fields


def test_status_transitions() -> None:
    assert next_status("validate", "pending") == "validated"
    assert next_status("reject", "pending") == "rejected"
    assert next_status("suspend", "validated") == "suspended"
    assert next_status("reinstate", "suspended") == "validated"
    for action, current in [("validate", "validated"), ("suspend", "pending"), ("reinstate", "validated")]:
        with pytest.raises(InputError) as exc:
            next_status(action, current)
        assert code(exc)[:2] == (409, "forbidden_transition")


def test_decision_bodies() -> None:
    assert resident_decision({"decision": "validate"}).reason is None
    with pytest.raises(InputError) as exc:
        resident_decision({"decision": "reject"})
    assert code(exc) == (422, "missing_field", "reason")
    with pytest.raises(InputError) as exc:
        alert_action({"action": "delete", "reason": "x"})
    assert code(exc) == (422, "unknown_action", "action")
    with pytest.raises(InputError) as exc:
        account_action({"action": "suspend", "reason": "x", "until": "never"})
    assert code(exc) == (422, "unknown_field", "until")


def account(uid: int, role: str) -> User:
    return User(uid, role, f"{uid}@x.org", "h", "", None, None, None, "validated", datetime.now(UTC))


def test_who_may_act_on_whom() -> None:
    mod, admin = account(1, "moderator"), account(2, "admin")
    may_act_on(mod, account(3, "resident"))
    may_act_on(admin, account(4, "dispatcher"))
    for actor, target in [(mod, account(5, "supervisor")), (admin, admin), (mod, mod)]:
        with pytest.raises(InputError) as exc:
            may_act_on(actor, target)
        assert code(exc)[:2] == (403, "forbidden")


ALERT = {"id": 7, "sector": "centre", "lat": 43.18, "lon": 3.0, "author": 9, "cell": "891f8d7a49bffff"}


def test_replay_tells_what_is_true_now() -> None:
    home = Home(1, 43.18, 3.0, "centre")
    created = {**ALERT, "category": "theft", "text": "", "status": "new", "created_at": "x"}
    assert stream_message("alert.created", 5, created, home, 500) is not None
    assert stream_message("alert.created", 5, created, home, 500, hidden={7}) is None
    removed = stream_message("alert.removed", 6, created, home, 500, hidden={7})
    assert removed is not None and orjson.loads(removed) == {"type": "alert.removed", "seq": 6, "data": {"id": 7}}
    assert stream_message("alert.removed", 6, created, home, 500) is None  # restored since: nothing to remove
    assert RESIDENT_MESSAGES["alert.removed"] == "alert.removed"


def test_a_hidden_text_reaches_those_who_have_the_alert_with_its_text_now() -> None:
    home = Home(1, 43.18, 3.0, "centre")
    data = {**ALERT, "category": "theft", "text": "M. X du 4", "status": "new", "created_at": "x"}
    hidden = stream_message("alert.text", 8, {**data, "text_hidden": True}, home, 500)
    assert hidden is not None and orjson.loads(hidden) == {
        "type": "alert.text",
        "seq": 8,
        "data": {"id": 7, "text": ""},
    }
    shown = stream_message("alert.text", 9, data, home, 500)
    assert shown is not None and orjson.loads(shown)["data"] == {"id": 7, "text": "M. X du 4"}
    assert stream_message("alert.text", 8, data, home, 500, hidden={7}) is None  # the whole alert is gone
    assert stream_message("alert.text", 8, data, Home(2, 43.30, 3.2, "nord"), 500) is None  # never had it
    assert stream_message("alert.text", 8, data, Home(9, 43.30, 3.2, "nord"), 500) is not None  # its author


def test_the_author_had_the_alert_too() -> None:
    far = Home(9, 43.30, 3.2, "nord")
    assert not resident_wants("alert.created", ALERT, far, 500)
    assert resident_wants("alert.removed", ALERT, far, 500)
    assert not resident_wants("alert.removed", ALERT, Home(10, 43.30, 3.2, "nord"), 500)


def test_a_circle_smaller_than_privacy_min_circle_m_is_refused() -> None:
    body = {"text": "x", "level": "info", "circle": {"lat": 43.18, "lon": 3.0, "radius_m": 150}}
    with pytest.raises(InputError) as exc:
        broadcast_input(body, ("centre",), min_circle_m=200)
    assert code(exc) == (422, "area_too_small", "radius_m")
    assert broadcast_input({**body, "circle": {**body["circle"], "radius_m": 200}}, ("centre",), 200).circle
