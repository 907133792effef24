"""Push on the resident page, in a real Chromium (issue 19): the page
registers its service worker (/sw.js, scope /) and offers push in its
settings; a Web Push message delivered to that worker shows the
notification with the broadcast's level and text. Chromium cannot reach a
real push service offline, so the message is delivered through the DevTools
protocol (ServiceWorker.deliverPushMessage), the way the browser would hand
it over after decrypting it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from dispatch.http.pages import LEVEL_LABELS
from tests.browser import PHONE_SIZE, Site, axe, browser, open_tab, run_axe, site, wait_live

pytestmark = pytest.mark.browser

__all__ = ["axe", "browser", "site"]  # fixtures


async def _registration(cdp: Any, scope: str, timeout: float = 10) -> str:
    """The registrationId of the worker whose scope is `scope`, from
    ServiceWorker.workerRegistrationUpdated (sent on enable for those that
    exist, then for each change)."""
    found: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def seen(event: dict[str, Any]) -> None:
        for reg in event["registrations"]:
            if reg["scopeURL"] == scope and not reg["isDeleted"] and not found.done():
                found.set_result(reg["registrationId"])

    cdp.on("ServiceWorker.workerRegistrationUpdated", seen)
    await cdp.send("ServiceWorker.enable")
    return await asyncio.wait_for(found, timeout)


async def test_the_worker_is_registered_push_is_offered_and_a_push_rings(browser: Any, site: Site, axe: str) -> None:
    who = site.residents[0]
    tab = await open_tab(browser, site, "/", who, size=PHONE_SIZE, permissions=["notifications"])
    page = tab.page
    await wait_live(page)
    # the service worker, from the site's root, controls the whole site
    worker = await page.evaluate(
        "navigator.serviceWorker.ready.then(r => ({script: r.active.scriptURL, scope: r.scope}))"
    )
    assert worker == {"script": f"{site.url}/sw.js", "scope": f"{site.url}/"}
    # the settings screen offers push on this device
    await page.wait_for_selector("#s-push-enable:not([hidden])", timeout=10_000)
    assert await page.is_visible("#settings-title")
    offer = await page.text_content("#s-push-enable")
    assert offer is not None and "Activer les notifications" in offer
    assert await page.locator('#s-channels input[name="channels"]').count() >= 4

    cdp = await tab.context.new_cdp_session(page)
    registration = await _registration(cdp, f"{site.url}/")
    message = {"id": 4242, "level": "urgent", "text": "Inondation quai Victor Hugo : ne sortez pas."}
    await cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": site.url, "registrationId": registration, "data": json.dumps(message)},
    )
    # what the worker showed, as the browser holds it
    shown = await page.evaluate(
        """async () => {
            const reg = await navigator.serviceWorker.ready;
            for (let i = 0; i < 100; i++) {
                const list = await reg.getNotifications();
                if (list.length) return list.map(n => ({title: n.title, body: n.body, tag: n.tag}));
                await new Promise(r => setTimeout(r, 100));
            }
            return [];
        }"""
    )
    assert shown == [
        {"title": f"{LEVEL_LABELS['urgent']} — police municipale", "body": message["text"], "tag": "broadcast-4242"}
    ]
    # and the open page heard of it from the worker
    await page.wait_for_function(
        "() => document.getElementById('settings-result').textContent.includes('Notification affichée')", timeout=5_000
    )
    assert await run_axe(page, axe) == []
    assert tab.console_errors() == []
    await tab.close()


async def test_the_settings_screen_saves_what_the_resident_ticks(browser: Any, site: Site) -> None:
    who = site.residents[1]
    tab = await open_tab(browser, site, "/", who, size=PHONE_SIZE)
    page = tab.page
    await wait_live(page)
    await page.wait_for_selector('#s-channels input[value="sms"]')
    # SMS without a phone: the server says which field, the page says it there
    await page.check('#s-channels input[value="sms"]')
    await page.fill("#s-phone", "")
    await page.click("#settings-save")
    await page.wait_for_function("() => document.getElementById('s-phone-error').textContent.length > 0", timeout=5_000)
    assert await page.get_attribute("#s-phone", "aria-invalid") == "true"
    await page.fill("#s-phone", "06 12 34 56 99")
    await page.uncheck('#s-levels input[value="info"]')
    await page.check('#s-categories input[value="fire"]')
    await page.click("#settings-save")
    await page.wait_for_function(
        "() => document.getElementById('settings-result').textContent === 'Réglages enregistrés.'", timeout=5_000
    )
    async with site.http(who) as http:
        saved = (await http.get("/api/me/notifications")).json()
    assert saved == {
        "channels": ["app", "sms"],
        "levels": ["warning", "urgent"],
        "categories": ["fire"],
        "phone": "+33612345699",
    }
    assert await page.input_value("#s-phone") == "+33612345699"  # as the server normalised it
    # a reload shows what was saved
    await page.reload()
    await wait_live(page)
    await page.wait_for_function("() => document.getElementById('s-phone').value === '+33612345699'", timeout=5_000)
    assert await page.is_checked('#s-channels input[value="sms"]')
    assert not await page.is_checked('#s-levels input[value="info"]')
    assert await page.is_checked('#s-categories input[value="fire"]')
    assert tab.console_errors(ignore=("status of 422",)) == []
    await tab.close()
