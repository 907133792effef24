"""The admin's audit page (/ops/audit) in a real Chromium against a real
server: it lists what the staff just did (a broadcast, an identity view),
filters by action, offers the same filter as CSV for the DPO, passes
axe-core, and is refused to a supervisor by the server itself."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.browser import Site, axe, browser, open_tab, post_alert, run_axe, screenshot, site
from tests.e2e import PASSWORD
from tests.seed import Seeded
from tests.support import dispatch_cli

pytestmark = pytest.mark.browser


async def _admin(site: Site) -> Seeded:
    out = dispatch_cli(
        "user", "add", "--role", "admin", "--email", "dpo-admin@example.org", "--password", PASSWORD, env=site.env
    )
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as http:
        r = await http.post("/api/auth/login", json={"email": "dpo-admin@example.org", "password": PASSWORD})
        assert r.status_code == 200, r.text
    return Seeded(int(out.stdout.strip()), r.json()["token"], "admin")


async def test_the_admin_reads_filters_and_exports_the_audit(browser: Any, site: Site, axe: str) -> None:
    admin = await _admin(site)
    async with site.http(site.supervisor) as http:
        sent = await http.post("/api/broadcasts", json={"sectors": "all", "text": "Exercice", "level": "info"})
        assert sent.status_code == 201, sent.text
        alert = await post_alert(site, site.residents[0], site.residents[0].lat, site.residents[0].lon, "theft")
        assert (await http.get(f"/api/alerts/{alert['id']}")).status_code == 200  # shows the author: audited
        # the page is the admin's: the server refuses it to a supervisor
        assert (await http.get("/ops/audit")).status_code == 403

    tab = await open_tab(browser, site, "/ops/audit", admin)
    page = tab.page
    await page.wait_for_selector("body[data-loaded]")
    actions = await page.locator("#audit-rows tr td:nth-child(4)").all_inner_texts()
    assert "broadcast.send" in actions and "identity.view" in actions

    await page.select_option("#f-action", "broadcast.send")
    before = await page.get_attribute("body", "data-loaded")
    await page.click("#audit-filters [type=submit]")
    await page.wait_for_function("b => document.body.dataset.loaded !== b", arg=before)
    actions = await page.locator("#audit-rows tr td:nth-child(4)").all_inner_texts()
    assert actions and set(actions) == {"broadcast.send"}
    records = await page.locator("#audit-rows tr td:nth-child(6)").all_inner_texts()
    assert str(sent.json()["id"]) in records

    href = await page.get_attribute("#audit-csv", "href")
    assert href and "format=csv" in href and "action=broadcast.send" in href
    async with site.http(admin) as http:
        csv = await http.get(href)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert f"broadcast.send,broadcast,{sent.json()['id']}" in csv.text

    assert await run_axe(page, axe) == []
    assert tab.console_errors() == []
    await screenshot(page, "audit.png")
    await tab.close()
