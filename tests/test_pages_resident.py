"""The resident page at phone size in a real Chromium: log in, report with a
pictogram, a point and text after the emergency reminder, see it reach the
wall, follow its status; and never see another resident's exact point or
identity."""

from __future__ import annotations

import json
import time
from typing import Any

import h3
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
from tests.support import dispatch_cli

pytestmark = pytest.mark.browser

HOME = (43.1905, 3.0080)  # in the centre sector, a few hundred metres from CENTRE


async def test_login_report_and_follow_it(browser: Any, site: Site, axe: str) -> None:
    email = "marie@example.org"
    user_id = int(
        dispatch_cli(
            "user",
            "add",
            "--role",
            "resident",
            "--email",
            email,
            "--password",
            PASSWORD,
            "--name",
            "Marie Test",
            "--lat",
            str(HOME[0]),
            "--lon",
            str(HOME[1]),
            env=site.env,
        ).stdout
    )
    tab = await open_tab(
        browser,
        site,
        "/",
        None,
        size=PHONE_SIZE,
        permissions=["geolocation"],
        geolocation={"latitude": CENTRE[0], "longitude": CENTRE[1]},
    )
    page = tab.page
    await page.wait_for_selector("#login:not([hidden])")
    assert "Alertes entre voisins" in await page.inner_text("#login h1")
    await page.fill("#login-email", email)
    await page.fill("#login-password", PASSWORD)
    await page.click("#login button[type=submit]")
    await page.wait_for_selector("#app:not([hidden])")
    await wait_live(page)
    assert "17, 18, 15 ou 112" in await page.inner_text("#emergency")

    wall = await open_tab(browser, site, "/ops/wall", site.supervisor)
    await wait_live(wall.page)

    # pictogram, then the point: the browser's position
    await page.click('label[for="cat-burglary"]')
    await page.click("#locate")
    await page.wait_for_function("() => document.getElementById('where').textContent.includes('localisation')")
    await page.fill("#text", "Fenêtre forcée au 12")
    await page.click("#send")
    confirm = page.locator("#confirm")
    await confirm.wait_for()
    assert "En cas de danger immédiat : 17, 18, 15 ou 112" in await confirm.inner_text()
    await screenshot(page, "resident-confirm.png")
    t0 = time.monotonic()
    await page.click("#confirm-send")
    card = page.locator("#mine .card").first
    await card.wait_for(timeout=3000)
    alert_id = int(await card.get_attribute("data-alert"))
    await wall.page.wait_for_function(
        "id => Number(document.getElementById('map').dataset.lastAlert) >= id", arg=alert_id, timeout=2000
    )
    assert time.monotonic() - t0 < 2.5
    # the words are the server's (GET /config resident_statuses)
    told = await page.evaluate("() => fetch('/config').then(r => r.json()).then(c => c.resident_statuses)")
    assert told["labels"][told["of"]["new"]] in await card.inner_text()

    async with site.http(site.supervisor) as http:
        alert = (await http.get(f"/api/alerts/{alert_id}")).json()
        assert alert["author"] == user_id and alert["category"] == "burglary"
        assert (alert["lat"], alert["lon"]) == pytest.approx(CENTRE, abs=1e-6)
        r = await http.patch(f"/api/incidents/{alert['incident']}", json={"status": "acknowledged"})
        assert r.status_code == 200, r.text
    await page.wait_for_function(
        "([id, word]) => document.querySelector(`#mine [data-alert='${id}']`).textContent.includes(word)",
        arg=[alert_id, told["labels"][told["of"]["acknowledged"]]],
        timeout=2000,
    )
    # a tap on the map places the point too
    box = await page.locator("#map").bounding_box()
    await page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert "sur la carte" in await page.inner_text("#where")

    await page.evaluate("() => window.scrollTo(0, 0)")
    await screenshot(page, "resident.png")
    violations = await run_axe(page, axe)
    assert violations == [], violations
    assert not tab.console_errors(), tab.errors
    assert not wall.console_errors(), wall.errors
    await tab.close()
    await wall.close()


async def test_never_shows_another_residents_point_or_identity(browser: Any, site: Site) -> None:
    me, other = site.residents[0], site.residents[1]  # neighbours in the centre
    tab = await open_tab(browser, site, "/", me, size=PHONE_SIZE)
    page = tab.page
    await wait_live(page)
    exact = (CENTRE[0] + 0.00123, CENTRE[1] + 0.00234)
    sent = await post_alert(site, other, exact[0], exact[1], "fire", "Feu de poubelle devant le 3")
    row = page.locator(f'#nearby .card[data-alert="{sent["id"]}"]')
    await row.wait_for(timeout=2000)
    assert "urgent" in (await row.get_attribute("class") or "")  # fire stands out
    assert "Feu de poubelle" in await row.inner_text()
    # drawn as its H3 cell: one hexagon whose outline is the cell's
    await page.wait_for_function(
        "() => document.querySelectorAll('#map path.leaflet-interactive, #map path').length >= 1"
    )

    html = await page.content()
    lat_s, lon_s = f"{exact[0]:.5f}", f"{exact[1]:.5f}"
    assert lat_s[:-1] not in html and lon_s[:-1] not in html
    assert "example.invalid" not in html and f"compte {other.user_id}" not in html

    # what the page received: only the anonymised view
    for raw in tab.frames:
        msg = json.loads(raw)
        if msg.get("type") == "alert.nearby":
            d = msg["data"]
            assert "author" not in d and "lat" not in d and "lon" not in d, d
            centre = h3.cell_to_latlng(d["cell"])
            assert (d["center"]["lat"], d["center"]["lon"]) == pytest.approx(centre, abs=1e-5)
    assert any(json.loads(f).get("type") == "alert.nearby" for f in tab.frames)
    # a message to the sector, for the full-page picture
    async with site.http(site.supervisor) as http:
        r = await http.post(
            "/api/broadcasts",
            json={
                "sectors": ["centre"],
                "level": "warning",
                "text": "Marché de Noël : circulation fermée place de l'Hôtel-de-Ville samedi.",
            },
        )
        assert r.status_code == 201
    await page.locator("#messages .card").first.wait_for(timeout=2000)
    await screenshot(page, "resident-full.png", full_page=True)

    listed = await page.evaluate("() => fetch('/api/alerts').then(r => r.json())")
    mine = [a for a in listed if a["id"] == sent["id"]]
    assert mine and all("author" not in a and "lat" not in a for a in listed)
    assert not tab.console_errors(), tab.errors
    await tab.close()
