"""The desk's delivery receipts (issue 19), in a real Chromium: before
sending, the composer shows how many residents the message reaches by SMS
and in how many segments, as the preview says; after, the broadcast's row
shows per channel the counts GET /api/broadcasts/{id}/receipts returns, and
follows them live."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser import Site, axe, browser, open_tab, run_axe, site, wait_live

pytestmark = pytest.mark.browser

__all__ = ["axe", "browser", "site"]  # fixtures

STATES = ("queued", "sent", "delivered", "failed")


async def _opt_in(site: Site) -> None:
    """The first centre resident by SMS, the second by e-mail."""
    centre = [r for r in site.residents if r.sector == "centre"]
    choices = [{"channels": ["app", "sms"], "phone": "+33612345001"}, {"channels": ["app", "email"]}]
    for who, body in zip(centre, choices, strict=False):
        async with site.http(who) as http:
            r = await http.put("/api/me/notifications", json=body)
            assert r.status_code == 200, r.text


async def _shown(page: Any, broadcast: int) -> dict[str, dict[str, str]]:
    return dict(
        await page.evaluate(
            """id => {
                const out = {};
                for (const row of document.querySelectorAll(`#receipts li[data-broadcast="${id}"] tr[data-channel]`)) {
                    out[row.dataset.channel] = {};
                    for (const td of row.querySelectorAll('td[data-state]')) out[row.dataset.channel][td.dataset.state] = td.textContent;
                }
                return out;
            }""",
            broadcast,
        )
    )


def _expected(receipts: dict[str, dict[str, int]], channels: list[str]) -> dict[str, dict[str, str]]:
    return {ch: {s: str(receipts[ch][s]) if s in receipts.get(ch, {}) else "—" for s in STATES} for ch in channels}


async def test_the_composer_counts_sms_and_the_desk_shows_the_receipts(browser: Any, site: Site, axe: str) -> None:
    await _opt_in(site)
    tab = await open_tab(browser, site, "/ops", site.supervisor)
    page = tab.page
    await wait_live(page)
    await page.locator('#c-sectors input[value="centre"]').check()
    text = "Coupure d'eau rue Droite jusqu'à 18 h : merci de votre patience."
    await page.fill("#c-text", text)
    async with site.http(site.supervisor) as http:
        preview = (await http.post("/api/broadcasts/preview", json={"sectors": ["centre"], "text": text})).json()
    assert preview["sms"]["recipients"] == 1
    await page.wait_for_function(
        "want => document.getElementById('c-preview-sms').dataset.segments === String(want.segments)"
        " && document.getElementById('c-preview-sms').dataset.recipients === String(want.recipients)",
        arg=preview["sms"],
        timeout=5000,
    )
    await page.click("#c-send")
    await page.wait_for_function("() => document.getElementById('c-result').dataset.recipients", timeout=5000)
    row = page.locator("#receipts li[data-broadcast]").first
    await row.wait_for(timeout=5000)
    broadcast = int(await row.get_attribute("data-broadcast") or 0)
    async with site.http(site.supervisor) as http:
        receipts = (await http.get(f"/api/broadcasts/{broadcast}/receipts")).json()
    assert receipts["sms"]["queued"] + receipts["sms"]["sent"] + receipts["sms"].get("delivered", 0) >= 1
    channels = await page.evaluate(
        "() => [...document.querySelectorAll('#receipts li:first-child tr[data-channel]')].map(r => r.dataset.channel)"
    )
    # the table converges on what the route says (the live message, or the first fetch)
    for _ in range(50):
        async with site.http(site.supervisor) as http:
            receipts = (await http.get(f"/api/broadcasts/{broadcast}/receipts")).json()
        if await _shown(page, broadcast) == _expected(receipts, channels):
            break
        await page.wait_for_timeout(100)
    assert await _shown(page, broadcast) == _expected(receipts, channels)
    assert await run_axe(page, axe) == []
    assert tab.console_errors() == []
    await tab.close()


async def test_a_desk_opened_after_a_broadcast_shows_its_receipts(browser: Any, site: Site) -> None:
    await _opt_in(site)
    async with site.http(site.supervisor) as http:
        sent = await http.post(
            "/api/broadcasts", json={"sectors": ["centre"], "text": "Marché déplacé", "level": "info"}
        )
        assert sent.status_code == 201, sent.text
    broadcast = sent.json()["id"]
    tab = await open_tab(browser, site, "/ops", site.supervisor)
    page = tab.page
    await wait_live(page)
    row = page.locator(f'#receipts li[data-broadcast="{broadcast}"]')
    await row.wait_for(timeout=5000)
    channels = await page.evaluate(
        "id => [...document.querySelectorAll(`#receipts li[data-broadcast='${id}'] tr[data-channel]`)]"
        ".map(r => r.dataset.channel)",
        broadcast,
    )
    for _ in range(50):
        async with site.http(site.supervisor) as http:
            receipts = (await http.get(f"/api/broadcasts/{broadcast}/receipts")).json()
        if await _shown(page, broadcast) == _expected(receipts, channels):
            break
        await page.wait_for_timeout(100)
    assert await _shown(page, broadcast) == _expected(receipts, channels)
    assert tab.console_errors() == []
    await tab.close()
