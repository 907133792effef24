"""Joining and moderation in a real Chromium against a real server: a
resident signs up on `/` with a proof of address (a real PNG, made here),
sees the account's status, a moderator validates it on `/ops/moderation`
with the keyboard, and the resident's first alert reaches /ws/ops. Then the
other decisions: a rejection and its reason, a flagged alert hidden live
from the residents' lists, a suspended account reinstated, and an admin's
narrower page. The sign-up form's own checks need no server-side support
and run first; the rest needs the joining and moderation API (the
contract's "Joining, verification and moderation") and skips, saying so,
on a server without it."""

from __future__ import annotations

import struct
import zlib
from typing import Any

import httpx
import pytest

from tests.browser import (
    CENTRE,
    PHONE_SIZE,
    Site,
    axe,
    browser,
    open_tab,
    post_alert,
    run_axe,
    screenshot,
    site,
    wait_live,
)
from tests.e2e import PASSWORD
from tests.seed import Seeded
from tests.support import dispatch_cli, next_message, stream

pytestmark = pytest.mark.browser

# a password the joining rules accept (long, not a common one, not the name)
JOIN_PASSWORD = "marelle-tilleul-42-brouette"


def png(width: int = 420, height: int = 560) -> bytes:
    """A real PNG that looks like a photographed bill: a white page, a dark
    header band, grey lines of "text", a framed total."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    def pixel(x: int, y: int) -> bytes:
        if y < 60:
            return b"\x0d\x47\xa1"
        if 100 <= y < 420 and (y - 100) % 28 < 10 and 30 <= x < width - 30 - (y - 100) // 28 * 37 % 120:
            return b"\x9e\x9e\x9e"
        if 450 <= y < 500 and 220 <= x < width - 30:
            return b"\x21\x21\x21" if y in (450, 499) or x in (220, width - 31) else b"\xff\xf8\xe1"
        return b"\xff\xff\xff"

    rows = b"".join(b"\x00" + b"".join(pixel(x, y) for x in range(width)) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def pdf(text: str = "Facture - 12 rue Droite") -> bytes:
    """A real one-page PDF with a line of text, cross-reference table and all."""
    stream_ = f"BT /F1 18 Tf 30 100 Td ({text}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 400 200] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream_) + stream_ + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


def staff(site: Site, role: str, email: str) -> Seeded:
    """A staff account made by the CLI, logged in over HTTP."""
    dispatch_cli("user", "add", "--role", role, "--email", email, "--password", PASSWORD, env=site.env)
    r = httpx.post(site.url + "/api/auth/login", json={"email": email, "password": PASSWORD}, timeout=10)
    r.raise_for_status()
    return Seeded(r.json()["user_id"], r.json()["token"], role)


def require_joining(site: Site) -> None:
    r = httpx.post(site.url + "/api/residents", timeout=10)
    if r.status_code in (404, 405):
        pytest.skip("the server has no joining API yet (POST /api/residents): this test awaits it")


async def open_join(page: Any) -> None:
    await page.wait_for_selector("#login:not([hidden])")
    await page.click("#open-join")
    await page.wait_for_selector("#join:not([hidden])")
    await page.wait_for_selector("#j-map.leaflet-container")


async def fill_join(page: Any, name: str, email: str, proof: bytes, proof_name: str, mime: str) -> None:
    await page.fill("#j-name", name)
    await page.fill("#j-email", email)
    await page.fill("#j-password", JOIN_PASSWORD)
    await page.fill("#j-address", "12 rue Droite, 11100 Narbonne")
    await page.click("#j-locate")  # the browser's position: the home, in the centre sector
    await page.wait_for_function("() => document.getElementById('j-where').textContent.includes('position')")
    await page.fill("#j-phone", "06 12 34 56 78")
    await page.set_input_files("#j-proof-file", files=[{"name": proof_name, "mimeType": mime, "buffer": proof}])
    await page.wait_for_function(
        "() => document.getElementById('j-proof-chosen').textContent.includes('Justificatif :')"
    )


async def resident_tab(browser: Any, site: Site) -> Any:
    return await open_tab(
        browser,
        site,
        "/",
        None,
        size=PHONE_SIZE,
        permissions=["geolocation"],
        geolocation={"latitude": CENTRE[0], "longitude": CENTRE[1]},
    )


async def pick(page: Any, queue: str, item_id: int) -> None:
    """Walk a moderation queue with j until `item_id` is the selected row."""
    await page.wait_for_selector(f'#{queue}-list .mod-item[data-id="{item_id}"]', timeout=5000)
    for _ in range(200):
        if await page.get_attribute(f'#{queue}-list .mod-item[aria-current="true"]', "data-id") == str(item_id):
            return
        await page.keyboard.press("j")
    raise AssertionError(f"{queue} item {item_id} never selected")


# -- the form's own checks (no joining API needed) ----------------------------------


async def test_join_form_says_what_is_wrong_before_sending(browser: Any, site: Site, axe: str) -> None:
    tab = await resident_tab(browser, site)
    page = tab.page
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.url.endswith("/api/residents") else None)
    await open_join(page)
    assert await page.evaluate("() => document.activeElement.id") == "join-title"
    text = await page.inner_text("#join")
    assert "en général dans la journée" in text and "jamais montrée aux autres habitants" in text
    camera = page.locator("#j-proof-camera")
    assert await camera.get_attribute("capture") == "environment"
    assert await page.get_attribute("#j-proof-file", "accept") == "application/pdf,image/jpeg,image/png"

    # nothing filled: every point in a summary, announced and focused, each under its field
    await page.click("#join-send")
    await page.wait_for_selector("#join-summary:not([hidden])")
    assert await page.get_attribute("#join-summary", "role") == "alert"
    assert await page.evaluate("() => document.activeElement.id") == "join-summary"
    assert await page.locator("#join-summary-list li").count() == 6
    assert await page.get_attribute("#j-name", "aria-invalid") == "true"
    assert "Placez le domicile" in await page.inner_text("#j-home-error")
    # a summary entry leads to its field
    await page.click("#join-summary-list a[href='#j-email']")
    assert await page.evaluate("() => document.activeElement.id") == "j-email"
    assert await run_axe(page, axe) == []

    # the keyboard places the home too: Enter puts it under the map's crosshair
    await page.focus("#j-map")
    await page.keyboard.press("ArrowUp")
    await page.keyboard.press("Enter")
    assert "au centre de la carte" in await page.inner_text("#j-where")
    assert await page.inner_text("#j-home-error") == ""

    # a proof that is not a PDF, JPEG or PNG, then one over 5 MB, are refused here
    await page.set_input_files("#j-proof-file", files=[{"name": "a.txt", "mimeType": "text/plain", "buffer": b"hi"}])
    await page.wait_for_function("() => document.getElementById('j-proof-error').textContent.includes('ni un PDF')")
    big = pdf() + b"%" * (5 * 1024 * 1024)
    await page.set_input_files(
        "#j-proof-file", files=[{"name": "gros.pdf", "mimeType": "application/pdf", "buffer": big}]
    )
    await page.wait_for_function("() => document.getElementById('j-proof-error').textContent.includes('Mo au plus')")
    assert await page.get_attribute("#j-proof-file", "aria-invalid") == "true"
    # a bad phone number, and a relative's name that is required once ticked
    await fill_join(page, "Jeanne Martin", "jeanne.form@example.org", png(), "facture.png", "image/png")
    await page.fill("#j-phone", "12")
    await page.check("#j-proxy")
    await page.click("#join-send")
    await page.wait_for_selector("#join-summary:not([hidden])")
    summary = await page.inner_text("#join-summary")
    assert "Téléphone" in summary and "Nom du proche" in summary and "Justificatif" not in summary
    # put right, the entries leave the summary
    await page.fill("#j-phone", "+33 6 12 34 56 78")
    await page.fill("#j-behalf", "Marcel Martin")
    await page.wait_for_selector("#join-summary", state="hidden")
    assert sent == []  # nothing left the page

    await page.evaluate("() => window.scrollTo(0, 0)")
    await screenshot(page, "resident-join.png", full_page=True)
    assert await run_axe(page, axe) == []
    # back to the login form
    await page.click("#join-back")
    await page.wait_for_selector("#login:not([hidden])")
    assert await page.evaluate("() => document.activeElement.id") == "login-email"
    assert not tab.console_errors(), tab.errors
    await tab.close()


async def test_only_a_proof_may_be_framed_and_only_by_our_pages(site: Site) -> None:
    require_joining(site)
    moderator = staff(site, "moderator", "moderateur-csp@example.org")
    applicant = apply(site, "Nora Csp", "nora@example.org", pdf(), "application/pdf")
    async with site.http(moderator) as http:
        page = await http.get("/ops/moderation")
        assert page.status_code == 200
        policy = page.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
        assert page.headers["x-frame-options"] == "DENY"
        proof = await http.get(f"/api/moderation/residents/{applicant}/proof")
        assert proof.status_code == 200 and proof.content == pdf()
        assert proof.headers["content-type"] == "application/pdf"
        assert proof.headers["content-disposition"].startswith("inline;")  # shown, not downloaded
        # one policy, its own: sandboxed, and framed by our origin only
        assert proof.headers.get_list("content-security-policy") == [
            "default-src 'none'; sandbox; frame-ancestors 'self'"
        ]
        assert proof.headers.get_list("x-frame-options") == ["SAMEORIGIN"]
        # anything else still refuses to be framed, the proof route's errors too
        for path in (
            f"/api/moderation/residents/{applicant}/proof/x",
            "/api/moderation/residents",
            "/",
            "/api/moderation/residents/999999/proof",
        ):
            r = await http.get(path)
            assert r.headers.get_list("content-security-policy") == [policy], path
            assert r.headers.get_list("x-frame-options") == ["DENY"], path


# -- end to end: joining, moderation ------------------------------------------------


async def test_join_validate_then_report_reaches_ops(browser: Any, site: Site, axe: str) -> None:
    require_joining(site)
    moderator = staff(site, "moderator", "moderatrice@example.org")
    tab = await resident_tab(browser, site)
    page = tab.page
    await open_join(page)
    await fill_join(page, "Jeanne Martin", "jeanne@example.org", png(), "facture.png", "image/png")
    await page.check("#j-proxy")
    await page.fill("#j-behalf", "Marcel Martin")
    await page.click("#join-send")

    # registered and logged in: the status, not the report form
    await page.wait_for_selector("#account:not([hidden])", timeout=10_000)
    assert await page.evaluate("() => document.activeElement.id") == "account-title"
    assert await page.get_attribute("#account", "data-status") == "pending"
    assert "En attente" in await page.inner_text("#account-label")
    assert "en général dans la journée" in await page.inner_text("#account")
    assert await page.locator("#live").is_hidden() and await page.locator("#report").is_hidden()
    me = await page.evaluate("() => fetch('/session').then(r => r.json())")
    assert me["status"] == "pending" and me["on_behalf_of"] == "Marcel Martin"
    await screenshot(page, "resident-pending.png")
    assert await run_axe(page, axe) == []

    # the moderator sees it, with its proof, and validates with the keyboard
    mod = await open_tab(browser, site, "/ops/moderation", moderator)
    mp = mod.page
    await mp.wait_for_selector("body[data-loaded]", timeout=10_000)
    await pick(mp, "residents", me["user_id"])
    detail = await mp.inner_text("#residents-detail")
    assert "Jeanne Martin" in detail and "Marcel Martin" in detail and "+33612345678" in detail
    assert "12 rue Droite" in detail and "jeanne@example.org" in detail
    await mp.wait_for_selector(f'#rd-proof[data-shown="{me["user_id"]}"] img', timeout=5000)
    assert await mp.evaluate("() => document.querySelector('#rd-proof img').naturalWidth") == 420
    await screenshot(mp, "moderation.png")
    assert await run_axe(mp, axe) == []
    await mp.keyboard.press("v")
    await mp.wait_for_function(
        "() => document.getElementById('mod-message').textContent.includes('validée')", timeout=5000
    )
    await mp.wait_for_selector(f'#residents-list .mod-item[data-id="{me["user_id"]}"]', state="detached")

    # the resident's page notices, and becomes the live page
    async with stream(site.server.ws_url, "/ws/ops", site.supervisor.token) as ops:
        await page.click("#account-refresh")
        await page.wait_for_selector("#live:not([hidden])", timeout=10_000)
        await wait_live(page)
        await page.click('label[for="cat-theft"]')
        await page.click("#locate")
        await page.wait_for_function("() => document.getElementById('where').textContent.includes('localisation')")
        await page.click("#send")
        await page.click("#confirm-send")
        msg = await next_message(ops, timeout=5, type_="alert.created")
        assert msg["data"]["author"] == me["user_id"] and msg["data"]["category"] == "theft"
    assert not tab.console_errors(), tab.errors
    assert not mod.console_errors(), mod.errors
    await tab.close()
    await mod.close()


def apply(site: Site, name: str, email: str, proof: bytes, mime: str = "image/png") -> int:
    """A sign-up straight through the API (the form itself is tested above)."""
    fields = {
        "name": name,
        "email": email,
        "password": JOIN_PASSWORD,
        "address": "3 quai Vallière",
        "lat": str(CENTRE[0]),
        "lon": str(CENTRE[1]),
    }
    ext = {"image/png": "png", "application/pdf": "pdf"}[mime]
    r = httpx.post(site.url + "/api/residents", data=fields, files={"proof": (f"proof.{ext}", proof, mime)}, timeout=10)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "pending"
    return int(r.json()["id"])


def resident(site: Site, email: str, lat: float, lon: float) -> Seeded:
    """A validated resident of its own (the CLI's), logged in: one this test
    may suspend without ending the sessions other tests share."""
    args = ["--email", email, "--password", PASSWORD, "--lat", str(lat), "--lon", str(lon)]
    dispatch_cli("user", "add", "--role", "resident", *args, env=site.env)
    r = httpx.post(site.url + "/api/auth/login", json={"email": email, "password": PASSWORD}, timeout=10)
    r.raise_for_status()
    return Seeded(r.json()["user_id"], r.json()["token"], "resident", lat, lon)


async def test_reject_with_a_reason_the_resident_reads(browser: Any, site: Site, axe: str) -> None:
    require_joining(site)
    moderator = staff(site, "moderator", "moderateur-refus@example.org")
    applicant = apply(site, "Paul Durand", "paul@example.org", pdf(), "application/pdf")
    mod = await open_tab(browser, site, "/ops/moderation", moderator)
    mp = mod.page
    await mp.wait_for_selector("body[data-loaded]", timeout=10_000)
    await pick(mp, "residents", applicant)
    # a PDF proof: in a frame, from the audited route, which our page may frame
    frame = mp.locator("#rd-proof iframe")
    await frame.wait_for(timeout=5000)
    assert await frame.get_attribute("src") == f"/api/moderation/residents/{applicant}/proof"
    await mp.wait_for_selector(f'#rd-proof[data-shown="{applicant}"]', timeout=5000)
    # Chromium's PDF viewer runs in the frame: neither downloaded nor blocked
    for _ in range(50):
        if any(f.url.startswith("chrome-extension://") for f in mp.frames):
            break
        await mp.wait_for_timeout(100)
    else:
        raise AssertionError(f"no PDF viewer in the proof's frame: {[f.url for f in mp.frames]}")
    # r asks for the reason, and names what it is about to do
    await mp.keyboard.press("r")
    await mp.wait_for_selector("#reason[open]")
    assert "Refuser l'inscription de Paul Durand" in await mp.inner_text("#reason-title")
    assert await mp.evaluate("() => document.activeElement.id") == "reason-input"
    assert await run_axe(mp, axe) == []
    await mp.click("#reason-confirm")  # no reason: refused here, nothing sent
    assert "obligatoire" in await mp.inner_text("#reason-error")
    await mp.locator("#reason-suggestions button", has_text="Justificatif illisible").click()
    await mp.click("#reason-confirm")
    await mp.wait_for_function(
        "() => document.getElementById('mod-message').textContent.includes('refusée')", timeout=5000
    )
    await mp.wait_for_selector(f'#residents-list .mod-item[data-id="{applicant}"]', state="detached")

    # the applicant logs in on / and reads why
    tab = await resident_tab(browser, site)
    page = tab.page
    await page.wait_for_selector("#login:not([hidden])")
    await page.fill("#login-email", "paul@example.org")
    await page.fill("#login-password", JOIN_PASSWORD)
    await page.click("#login button[type=submit]")
    await page.wait_for_selector('#account[data-status="rejected"]', timeout=5000)
    assert await page.inner_text("#account-reason") == "Justificatif illisible"
    assert "n'a pas été acceptée" in await page.inner_text("#account")
    assert await page.locator("#report").is_hidden()
    assert await run_axe(page, axe) == []
    assert not tab.console_errors(), tab.errors
    assert not mod.console_errors(), mod.errors
    await tab.close()
    await mod.close()


async def test_flag_hide_live_then_suspend_and_reinstate(browser: Any, site: Site, axe: str) -> None:
    require_joining(site)
    moderator = staff(site, "moderator", "moderateur-alertes@example.org")
    author = resident(site, "auteur@example.org", CENTRE[0] + 0.001, CENTRE[1])
    watcher = site.residents[0]  # a neighbour, in the centre sector
    tab = await open_tab(browser, site, "/", watcher, size=PHONE_SIZE)
    page = tab.page
    await wait_live(page)
    alert = await post_alert(site, author, CENTRE[0] + 0.002, CENTRE[1], "suspicious", "Le voisin du 3 est louche")
    row = page.locator(f'#nearby .card[data-alert="{alert["id"]}"]')
    await row.wait_for(timeout=3000)

    # the neighbour flags it, with a reason
    await row.locator(".flag-button").click()
    await page.wait_for_selector("#flag-dialog[open]")
    assert await run_axe(page, axe) == []
    await page.click("#flag-send")  # no reason chosen: said in the dialog
    assert "Choisissez" in await page.inner_text("#flag-error")
    await page.check('input[name="flag-reason"][value="Désigne ou expose une personne"]')
    await page.click("#flag-send")
    await page.wait_for_selector("#flag-dialog", state="hidden")
    await page.wait_for_function(
        "() => document.getElementById('flag-result').textContent.includes('modérateur')", timeout=3000
    )
    assert await row.locator(".flag-button").is_disabled()

    # the moderator suspends its author from the flags queue, then hides it:
    # the neighbour's list loses it live
    mod = await open_tab(browser, site, "/ops/moderation", moderator)
    mp = mod.page
    await mp.wait_for_selector("body[data-loaded]", timeout=10_000)
    await mp.keyboard.press("2")
    await pick(mp, "flags", alert["id"])
    assert "Désigne ou expose une personne" in await mp.inner_text("#fd-flags")
    assert f"compte {author.user_id}" in await mp.inner_text("#fd-author")
    assert await run_axe(mp, axe) == []
    await mp.keyboard.press("s")
    await mp.wait_for_selector("#reason[open]")
    assert "Suspendre" in await mp.inner_text("#reason-title")
    await mp.fill("#reason-input", "Signalements visant des voisins")
    await mp.click("#reason-confirm")
    await mp.wait_for_function(
        "() => document.getElementById('mod-message').textContent.includes('suspendu')", timeout=5000
    )
    async with site.http(author) as http:  # its sessions ended
        assert (await http.get("/api/me")).status_code == 401
    await pick(mp, "flags", alert["id"])
    await mp.keyboard.press("h")
    await mp.wait_for_selector("#reason[open]")
    await mp.fill("#reason-input", "Vise une personne identifiable")
    await mp.click("#reason-confirm")
    await row.wait_for(state="detached", timeout=3000)
    assert any('"alert.removed"' in f for f in tab.frames)
    await mp.wait_for_function(
        "() => document.getElementById('mod-message').textContent.includes('masquée')", timeout=5000
    )

    # the author's account, in the third queue, reinstated
    await mp.keyboard.press("3")
    await pick(mp, "suspended", author.user_id)
    assert "Signalements visant des voisins" in await mp.inner_text("#suspended-detail")
    assert await run_axe(mp, axe) == []
    await mp.keyboard.press("a")
    await mp.wait_for_selector("#reason[open]")
    await mp.fill("#reason-input", "Explications reçues")
    await mp.click("#reason-confirm")
    await mp.wait_for_selector(f'#suspended-list .mod-item[data-id="{author.user_id}"]', state="detached")
    assert not tab.console_errors(), tab.errors
    assert not mod.console_errors(), mod.errors
    await tab.close()
    await mod.close()


async def test_an_admin_sees_the_accounts_but_no_proof(browser: Any, site: Site, axe: str) -> None:
    require_joining(site)
    admin = staff(site, "admin", "admin-moderation@example.org")
    applicant = apply(site, "Lina Petit", "lina@example.org", png())
    tab = await open_tab(browser, site, "/ops/moderation", admin)
    page = tab.page
    await page.wait_for_selector("body[data-loaded]", timeout=10_000)
    await pick(page, "residents", applicant)
    assert await page.locator("#tab-flags").is_hidden()
    assert await page.locator("#rd-actions").is_hidden() and await page.locator("#rd-proof-panel").is_hidden()
    assert "réservé aux modérateurs" in await page.inner_text("#rd-no-decide")
    await page.keyboard.press("v")  # nothing: an admin does not decide
    await page.wait_for_timeout(300)
    assert await page.locator(f'#residents-list .mod-item[data-id="{applicant}"]').count() == 1
    assert await run_axe(page, axe) == []
    assert not tab.console_errors(), tab.errors
    await tab.close()


async def test_hide_only_the_text_of_a_flagged_alert(browser: Any, site: Site, axe: str) -> None:
    """`t` on a flagged alert hides its words from residents, who keep the
    alert: the cards open on a neighbour's page and in the author's own list
    go blank at once (alert.text); the moderator still reads them, marked;
    restoring brings them back, live too."""
    require_joining(site)
    moderator = staff(site, "moderator", "moderateur-texte@example.org")
    author = resident(site, "auteur-texte@example.org", CENTRE[0] + 0.001, CENTRE[1] + 0.001)
    watcher = site.residents[1]
    words = "Madame Durand du 12 laisse son chien aboyer"
    tabs = [await open_tab(browser, site, "/", watcher, size=PHONE_SIZE)]
    await wait_live(tabs[0].page)
    alert = await post_alert(site, author, CENTRE[0] + 0.001, CENTRE[1] + 0.001, "ecology", words)
    tabs.append(await open_tab(browser, site, "/", author, size=PHONE_SIZE))  # lists it among its own
    await wait_live(tabs[1].page)
    cards = [
        tabs[0].page.locator(f'#nearby .card[data-alert="{alert["id"]}"]'),
        tabs[1].page.locator(f'#mine .card[data-alert="{alert["id"]}"]'),
    ]
    for card in cards:
        await card.locator(".card-text", has_text=words).wait_for(timeout=3000)
    async with site.http(watcher) as http:
        r = await http.post(f"/api/alerts/{alert['id']}/flags", json={"reason": "Désigne ou expose une personne"})
        assert r.status_code == 201, r.text

    mod = await open_tab(browser, site, "/ops/moderation", moderator)
    mp = mod.page
    await mp.wait_for_selector("body[data-loaded]", timeout=10_000)
    await mp.keyboard.press("2")
    await pick(mp, "flags", alert["id"])
    assert words in await mp.inner_text("#fd-text")
    await mp.keyboard.press("t")
    await mp.wait_for_selector("#reason[open]")
    assert "texte" in await mp.inner_text("#reason-title")
    assert await run_axe(mp, axe) == []
    await mp.fill("#reason-input", "Nomme une voisine")
    await mp.click("#reason-confirm")
    await mp.wait_for_function(
        "() => document.getElementById('mod-message').textContent.includes('Texte')", timeout=5000
    )
    for card in cards:  # the alert stays, its words go
        await card.locator(".card-text").wait_for(state="detached", timeout=3000)
        assert await card.is_visible()
    for tab in tabs:
        assert any('"alert.text"' in f for f in tab.frames)
        assert words not in await tab.page.inner_text("body")
    assert await run_axe(tabs[0].page, axe) == []
    async with site.http(watcher) as http:
        seen = (await http.get(f"/api/alerts/{alert['id']}")).json()
    assert seen["id"] == alert["id"] and words not in str(seen)
    async with site.http(site.supervisor) as http:
        staff_view = (await http.get(f"/api/alerts/{alert['id']}")).json()
    assert staff_view["text"] == words and staff_view["text_hidden"] is True

    async with site.http(moderator) as http:
        r = await http.post(f"/api/moderation/alerts/{alert['id']}", json={"action": "restore", "reason": "erreur"})
        assert r.status_code == 200, r.text
    for card in cards:
        await card.locator(".card-text", has_text=words).wait_for(timeout=3000)
    for tab in (*tabs, mod):
        assert not tab.console_errors(), tab.errors
        await tab.close()
