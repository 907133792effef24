"""The resident page's memory and words (issue 18 §5), at phone size in a real
Chromium against a real server: messages sent before the page opened are
there on open (GET /api/broadcasts), and never twice once live ones come;
a message to another sector is not; one's own alert reads, in the resident
words of GET /config, the state the desk shows; and with the map tiles
unreachable the map still shows the home sector's outline and name."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser import (
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

pytestmark = pytest.mark.browser


async def broadcast(site: Site, sectors: list[str], text: str, level: str = "info") -> int:
    async with site.http(site.supervisor) as http:
        r = await http.post("/api/broadcasts", json={"sectors": sectors, "text": text, "level": level})
        assert r.status_code == 201, r.text
        return int(r.json()["id"])


async def shown_messages(page: Any) -> list[str]:
    return list(
        await page.evaluate("() => [...document.querySelectorAll('#messages .card')].map(c => c.dataset.broadcast)")
    )


async def test_messages_sent_before_opening_are_shown_once(browser: Any, site: Site, axe: str) -> None:
    me = site.residents[0]
    assert me.sector == "centre"
    first = await broadcast(site, ["centre"], "Travaux rue Droite jusqu'à vendredi")
    second = await broadcast(site, ["centre", "bourg"], "Coupure d'eau demain de 8 h à 12 h", "warning")
    other = await broadcast(site, ["plage"], "Baignade interdite aujourd'hui", "urgent")

    tab = await open_tab(browser, site, "/", me, size=PHONE_SIZE)
    page = tab.page
    await wait_live(page)
    await page.wait_for_function("() => document.querySelectorAll('#messages .card').length >= 2", timeout=3000)
    # newest first, and not the beach's
    assert await shown_messages(page) == [str(second), str(first)]
    assert str(other) not in await shown_messages(page)
    assert await page.is_hidden("#messages-empty")
    assert "Coupure d'eau" in await page.inner_text(f'#messages [data-broadcast="{second}"]')

    # live ones come on top, once, whatever the stream replays
    live = await broadcast(site, ["centre"], "Fête de quartier samedi : stationnement interdit", "urgent")
    await page.wait_for_selector(f'#messages [data-broadcast="{live}"]', timeout=2000)
    assert await shown_messages(page) == [str(live), str(second), str(first)]
    assert await run_axe(page, axe) == []
    await screenshot(page, "resident-messages.png", full_page=True)

    # reopened: the same three, once each
    await page.reload()
    await wait_live(page)
    await page.wait_for_function("() => document.querySelectorAll('#messages .card').length >= 3", timeout=3000)
    await page.wait_for_timeout(500)
    assert await shown_messages(page) == [str(live), str(second), str(first)]
    assert not tab.console_errors(), tab.errors
    await tab.close()


async def test_own_alert_reads_the_desks_state_in_resident_words(browser: Any, site: Site) -> None:
    me = site.residents[1]
    async with site.http(site.supervisor) as http:
        told = (await http.get("/config")).json()["resident_statuses"]
        words = {s: told["labels"][told["of"][s]] for s in told["of"]}
        unit = (await http.post("/api/units", json={"name": "Patrouille Mirabeau"})).json()
    mine = await post_alert(site, me, me.lat, me.lon, "suspicious", "Rôdeur dans la cour")
    tab = await open_tab(browser, site, "/", me, size=PHONE_SIZE)
    page = tab.page
    await wait_live(page)
    card = page.locator(f'#mine [data-alert="{mine["id"]}"]')
    await card.wait_for(timeout=3000)
    assert words["new"] in await card.inner_text()

    async def desk_status() -> str:
        async with site.http(site.supervisor) as http:
            return str((await http.get(f"/api/incidents/{mine['incident']}")).json()["status"])

    async with site.http(site.supervisor) as http:
        r = await http.patch(f"/api/incidents/{mine['incident']}", json={"unit": unit["id"]})
        assert r.status_code == 200, r.text
    status = await desk_status()
    assert status == "assigned"
    await page.wait_for_function(
        "([id, word]) => document.querySelector(`#mine [data-alert='${id}'] .badge`).textContent === word",
        arg=[mine["id"], words[status]],
        timeout=2000,
    )
    async with site.http(site.supervisor) as http:
        r = await http.patch(f"/api/incidents/{mine['incident']}", json={"status": "resolved"})
        assert r.status_code == 200, r.text
    await page.wait_for_function(
        "([id, word]) => document.querySelector(`#mine [data-alert='${id}'] .badge`).textContent === word",
        arg=[mine["id"], words["resolved"]],
        timeout=2000,
    )
    # and the same word once reloaded
    await page.reload()
    await wait_live(page)
    await card.wait_for(timeout=3000)
    assert words["resolved"] in await card.inner_text()
    assert not tab.console_errors(), tab.errors
    await tab.close()


async def test_offline_map_shows_the_home_sector(browser: Any, site: Site) -> None:
    me = site.residents[2]
    assert me.sector == "plage"
    tab = await open_tab(browser, site, "/", me, size=PHONE_SIZE, tiles="offline")
    page = tab.page
    await wait_live(page)
    await page.wait_for_selector("#map[data-home-sector='plage']", timeout=3000)
    label = page.locator("#map .home-sector-label")
    await label.wait_for(timeout=2000)
    assert "Narbonne-Plage" in await label.inner_text()
    assert await label.is_visible()
    # no tile ever drew: the outline is the API's geometry, drawn as a vector
    assert await page.locator("#map .leaflet-tile-loaded").count() == 0
    outline = page.locator("#map path.home-sector")
    assert await outline.count() == 1
    # the map frames the home sector (after its zoom animation, hence the wait)
    await page.wait_for_function(
        """() => {
            const o = document.querySelector('#map path.home-sector').getBoundingClientRect();
            return o.width > document.getElementById('map').getBoundingClientRect().width / 3;
        }""",
        timeout=5000,
    )
    await page.locator("#map").scroll_into_view_if_needed()
    await screenshot(page, "resident-offline-map.png")
    assert not tab.console_errors(), tab.errors
    await tab.close()
