"""Joining against real servers, on both stores: real proofs accepted, a
renamed executable and an oversized file refused without a trace, the same
answer whether or not the e-mail has an account, proofs reachable through
the audited moderation route only, and a pending account that may log in
and read GET /api/me, and nothing else."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
import websockets

from dispatch.adapters import open_store
from tests.e2e import CENTRE, PASSWORD, Accounts, embedded_env, production_env, server_factory, store_env
from tests.joining_kit import join, real_jpeg, real_pdf, real_png
from tests.support import login, stream

ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 8
MZ = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + bytes(range(256)) * 8


@pytest.fixture(params=["sqlite", "postgres"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    base = store_env(request, tmp_path)
    return {**base, "DISPATCH_PROOFS_DIR": str(tmp_path / "proofs")}


def stored_proofs(env: dict[str, str]) -> list[Path]:
    folder = Path(env["DISPATCH_PROOFS_DIR"])
    return sorted(folder.iterdir()) if folder.exists() else []


async def test_real_proofs_are_accepted_and_kept_under_random_names(env, server_factory) -> None:
    server = server_factory(env)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        for i, (data, name, declared) in enumerate(
            [
                (real_pdf(), "bail.pdf", "application/pdf"),
                (real_jpeg(), "photo.JPG", "image/jpeg"),
                (real_png(), "scan", "application/octet-stream"),
            ]
        ):
            r = await join(http, f"j{i}@example.org", data, name, declared, phone="06 12 34 56 7" + str(i))
            assert r.status_code == 201, r.text
            body = r.json()
            assert set(body) == {"id", "status"} and body["status"] == "pending" and isinstance(body["id"], int)
    files = stored_proofs(env)
    assert len(files) == 3 and all(len(f.name) == 32 and "." not in f.name for f in files)
    assert {f.read_bytes() for f in files} == {real_pdf(), real_jpeg(), real_png()}
    assert all(f.stat().st_mode & 0o077 == 0 for f in files)  # the server's user only
    Accounts(env).add("moderator", "mod@example.org")
    mod = await login(server.url, "mod@example.org", PASSWORD)
    listed = (await mod.http.get("/api/moderation/residents", params={"status": "pending"})).json()
    assert [a["email"] for a in listed] == ["j0@example.org", "j1@example.org", "j2@example.org"]  # oldest first
    assert [a["proof"]["media_type"] for a in listed] == ["application/pdf", "image/jpeg", "image/png"]
    assert [a["phone"] for a in listed] == ["+33612345670", "+33612345671", "+33612345672"]
    await mod.aclose()


@pytest.mark.parametrize("payload", [ELF, MZ], ids=["elf", "mz"])
async def test_a_renamed_executable_is_refused_and_nothing_is_kept(env, server_factory, payload: bytes) -> None:
    server = server_factory(env)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        r = await join(http, "evil@example.org", payload, "evil.pdf", "application/pdf")
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_proof", r.text
        assert r.json()["error"]["field"] == "proof"
        login_r = await http.post("/api/auth/login", json={"email": "evil@example.org", "password": PASSWORD})
        assert login_r.status_code == 401  # no account was made
    assert stored_proofs(env) == []


async def test_a_6_mb_file_is_refused_without_being_stored(env, server_factory) -> None:
    server = server_factory(env)
    big = real_pdf()[:-6] + b"\n" * (6 * 1024 * 1024) + b"%%EOF\n"
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        r = await join(http, "big@example.org", big)
        assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large", r.text

        # declared too large, or sent in chunks without a length: the same
        async def chunks():
            yield b"--x\r\n"
            for _ in range(7):
                yield b"\0" * (1024 * 1024)

        r = await http.post(
            "/api/residents", content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=x"}
        )
        assert r.status_code == 413, r.text
        ok = await join(http, "small@example.org")
        assert ok.status_code == 201  # the server is fine afterwards
    assert len(stored_proofs(env)) == 1


async def test_the_answer_never_says_whether_the_email_has_an_account(env, server_factory) -> None:
    Accounts(env).add("resident", "known@example.org", *CENTRE)
    server = server_factory(env)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        timings, answers = {}, {}
        for email in ("known@example.org", "fresh@example.org", "KNOWN@example.org", "fresh2@example.org"):
            t0 = time.perf_counter()
            r = await join(http, email, password="another good passphrase")
            timings[email] = time.perf_counter() - t0
            answers[email] = r
        for r in answers.values():
            assert r.status_code == 201 and set(r.json()) == {"id", "status"} and r.json()["status"] == "pending"
        ids = [r.json()["id"] for r in answers.values()]
        assert len(set(ids)) == 4  # a known e-mail gets an id of its own, never the account's
        # the known account is untouched: its password, no second account, no proof kept for it
        assert (
            await http.post("/api/auth/login", json={"email": "known@example.org", "password": PASSWORD})
        ).status_code == 200
        again = await http.post(
            "/api/auth/login", json={"email": "known@example.org", "password": "another good passphrase"}
        )
        assert again.status_code == 401
    assert len(stored_proofs(env)) == 2
    # both paths hash the password: no gross difference in time
    known = timings["known@example.org"] + timings["KNOWN@example.org"]
    fresh = timings["fresh@example.org"] + timings["fresh2@example.org"]
    assert known > fresh / 3, timings
    store = open_store(env["DISPATCH_DATABASE_URL"], pool_size=2)
    await store.connect()
    try:
        assert [u.email for u in await store.residents_by_status("pending", 10)] == [
            "fresh@example.org",
            "fresh2@example.org",
        ]
    finally:
        await store.close()


async def test_bad_applications_answer_4xx_in_the_error_shape(tmp_path, server_factory) -> None:
    env = {**embedded_env(tmp_path), "DISPATCH_PROOFS_DIR": str(tmp_path / "proofs")}
    server = server_factory(env)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        cases = [
            (dict(role="admin"), 422, "unknown_field", "role"),
            (dict(lat="43.30", lon="2.60"), 422, "outside_city", "lat"),  # Carcassonne way
            (dict(password="azertyuiop"), 422, "weak_password", "password"),
            (dict(password="short"), 422, "weak_password", "password"),
            (dict(phone="12"), 422, "invalid_phone", "phone"),
            (dict(lat="nord"), 422, "invalid_type", "lat"),
        ]
        for extra, status, code, field in cases:
            r = await join(http, "x@example.org", **extra)
            err = r.json()["error"]
            assert (r.status_code, err["code"], err.get("field")) == (status, code, field), (extra, r.text)
            assert err["message"]
        r = await join(http, "nobody")
        assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_email")
        r = await http.post("/api/residents", data={"name": "x", "email": "y@example.org"})  # no file
        assert r.status_code == 415 or r.json()["error"]["code"] == "missing_field", r.text
        r = await http.post("/api/residents", files={"name": (None, "x")}, data={"email": "y@example.org"})
        assert r.status_code == 422 and r.json()["error"]["code"] == "missing_field"
        r = await http.post("/api/residents", files={"proof": (None, "not a file")}, data={"email": "y@example.org"})
        assert r.status_code == 422 and r.json()["error"]["field"] == "proof"
        r = await http.post("/api/residents", json={"email": "y@example.org"})
        assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type"
        r = await http.post(
            "/api/residents", content=b"--x\r\ngarbage", headers={"Content-Type": "multipart/form-data; boundary=x"}
        )
        assert 400 <= r.status_code < 500 and "error" in r.json()
    assert stored_proofs(env) == []


async def test_a_proof_is_only_served_by_the_audited_route(tmp_path, server_factory) -> None:
    env = {**embedded_env(tmp_path), "DISPATCH_PROOFS_DIR": str(tmp_path / "proofs")}
    accounts = Accounts(env)
    mod_id = accounts.add("moderator", "mod@example.org")
    accounts.add("admin", "admin@example.org")
    server = server_factory(env)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        r = await join(http, "j@example.org", real_jpeg(), "photo.jpg", "image/jpeg")
        account = r.json()["id"]
    (name,) = [f.name for f in stored_proofs(env)]
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        for path in (
            f"/static/{name}",
            f"/var/proofs/{name}",
            f"/proofs/{name}",
            f"/{name}",
            f"/var/{name}",
            f"/static/../var/proofs/{name}",
            f"/static/%2e%2e/%2e%2e/var/proofs/{name}",
            f"/vendor/leaflet/../../var/proofs/{name}",
            f"/api/moderation/residents/{name}/proof",
            f"/api/moderation/residents/{account}/proof",  # no account: 401
        ):
            r = await http.get(path)
            assert r.status_code in (401, 404) and real_jpeg() not in r.content, (path, r.status_code)
    admin = await login(server.url, "admin@example.org", PASSWORD)
    assert (await admin.http.get(f"/api/moderation/residents/{account}/proof")).status_code == 403
    mod = await login(server.url, "mod@example.org", PASSWORD)
    for _ in range(2):
        r = await mod.http.get(f"/api/moderation/residents/{account}/proof")
        assert r.status_code == 200 and r.content == real_jpeg() and r.headers["content-type"] == "image/jpeg"
        # inline: the moderation page shows it in an <img> or <iframe> (test_pages_moderation)
        assert r.headers["cache-control"] == "no-store" and r.headers["content-disposition"].startswith("inline;")
    assert (await mod.http.get("/api/moderation/residents/123/proof")).status_code == 404
    await mod.aclose()
    await admin.aclose()
    store = open_store(env["DISPATCH_DATABASE_URL"], pool_size=1)
    await store.connect()
    try:
        views = await store.proof_views(account)
        assert [v for v, _ in views] == [mod_id, mod_id]  # every call, by whom; the refused ones are not views
        assert [v for v, _ in await store.proof_views(123)] == [mod_id]  # a call that found nothing is recorded too
    finally:
        await store.close()


async def test_a_pending_account_may_log_in_and_read_me_and_nothing_else(env, server_factory) -> None:
    Accounts(env).add("moderator", "mod@example.org")
    server = server_factory(env)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        account = (await join(http, "p@example.org", name="Paula")).json()["id"]
    me = await login(server.url, "p@example.org", PASSWORD)
    assert me.user_id == account
    body = (await me.http.get("/api/me")).json()
    assert body["status"] == "pending" and body["address"] == "3 rue du Pont, 11100 Narbonne" and "reason" not in body
    r = await me.post_alert(category="theft", lat=CENTRE[0], lon=CENTRE[1])
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_validated"
    assert (await me.http.get("/api/alerts")).status_code == 403
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with stream(server.ws_url, "/ws/resident", me.token):
            pass
    assert refused.value.response.status_code == 403 and b"not_validated" in refused.value.response.body
    mod = await login(server.url, "mod@example.org", PASSWORD)
    r = await mod.http.post(f"/api/moderation/residents/{account}", json={"decision": "reject"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "reason"
    r = await mod.http.post(f"/api/moderation/residents/{account}", json={"decision": "validate"})
    assert r.status_code == 200 and r.json()["status"] == "validated"
    r = await mod.http.post(f"/api/moderation/residents/{account}", json={"decision": "reject", "reason": "x"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "forbidden_transition"
    assert (await me.http.get("/api/me")).json()["status"] == "validated"  # at once, same worker
    r = await me.post_alert(category="theft", lat=CENTRE[0], lon=CENTRE[1])
    assert r.status_code == 201, r.text
    await me.aclose()
    await mod.aclose()
