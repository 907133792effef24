"""The desk's safe actions and what it shows, in a real Chromium against a
real server (issue 18 §3, §4): `r` and dismiss ask first from the keyboard,
an urgent or city-wide broadcast says how many residents it reaches and
asks, the queue header counts shown / open, the map shows what the queue
shows, and a polygon drawn on the map by clicks previews the count the
broadcast then reaches."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser import (
    CENTRE,
    PLAGE,
    Site,
    axe,
    browser,
    open_tab,
    post_alert,
    run_axe,
    scatter_alerts,
    screenshot,
    site,
    wait_live,
)
from tests.test_pages_desk import select_in_queue

pytestmark = pytest.mark.browser


async def status_of(site: Site, incident: int) -> str:
    async with site.http(site.supervisor) as http:
        return str((await http.get(f"/api/incidents/{incident}")).json()["status"])


async def until_status(site: Site, page: Any, incident: int, status: str) -> None:
    for _ in range(40):
        if await status_of(site, incident) == status:
            return
        await page.wait_for_timeout(100)
    raise AssertionError(f"incident {incident} never reached {status}: {await status_of(site, incident)}")


async def test_resolve_and_dismiss_ask_first(browser: Any, site: Site, axe: str) -> None:
    one = (await post_alert(site, site.residents[0], CENTRE[0], CENTRE[1], "theft", "Vélo volé"))["incident"]
    two = (await post_alert(site, site.residents[2], PLAGE[0], PLAGE[1], "vandalism", "Tags"))["incident"]
    desk = await open_tab(browser, site, "/ops", site.supervisor)
    page = desk.page
    await wait_live(page)

    await select_in_queue(page, one)
    await page.keyboard.press("r")
    dialog = page.locator("#confirm-action[open]")
    await dialog.wait_for(timeout=2000)
    # r alone resolves nothing: the dialog waits, focused on its confirm button
    await page.wait_for_timeout(700)
    assert await status_of(site, one) == "new"
    assert await page.evaluate("() => document.activeElement.id") == "ca-yes"
    assert "Vol n° " in await page.inner_text("#ca-text")
    assert await run_axe(page, axe) == []
    # Escape cancels, and the focus goes back to the queue
    await page.keyboard.press("Escape")
    await dialog.wait_for(state="detached", timeout=2000)
    await page.wait_for_timeout(300)
    assert await status_of(site, one) == "new"
    assert await page.evaluate("() => document.activeElement.dataset.incident") == str(one)
    # y confirms
    await page.keyboard.press("r")
    await dialog.wait_for(timeout=2000)
    await page.keyboard.press("y")
    await until_status(site, page, one, "resolved")

    # dismiss, from its button: asked too; Enter confirms
    await page.click(f'#queue .incident[data-incident="{two}"]')
    await page.wait_for_function("id => document.getElementById('detail').dataset.incident === String(id)", arg=two)
    await page.click('button[data-status="dismissed"]')
    await dialog.wait_for(timeout=2000)
    assert "infondé" in (await page.inner_text("#ca-title")).lower()
    await page.keyboard.press("Escape")
    await page.wait_for_timeout(300)
    assert await status_of(site, two) == "new"
    await page.click('button[data-status="dismissed"]')
    await dialog.wait_for(timeout=2000)
    await page.keyboard.press("Enter")
    await until_status(site, page, two, "dismissed")
    assert not desk.console_errors(), desk.errors
    await desk.close()


async def queue_ids(page: Any) -> list[str]:
    return list(
        await page.evaluate(
            "() => [...document.querySelectorAll('#queue .incident')].filter(r => !r.hidden).map(r => r.dataset.incident)"
        )
    )


async def test_header_counts_shown_of_total_and_the_map_follows(browser: Any, site: Site) -> None:
    await scatter_alerts(site, 30, seed_=21)
    async with site.http(site.supervisor) as http:
        open_now = len((await http.get("/api/incidents?status=open&limit=5000")).json())
    desk = await open_tab(browser, site, "/ops", site.supervisor)
    page = desk.page
    await wait_live(page)
    count = page.locator("#queue-count")
    await page.wait_for_function(
        "n => document.getElementById('queue-count').dataset.total === String(n)", arg=open_now, timeout=3000
    )
    assert await count.get_attribute("data-shown") == str(open_now)
    assert await page.get_attribute("#map", "data-filtered") == "0"

    # the search narrows the queue, the header and the map
    await page.fill("#f-search", "plage")
    await page.wait_for_function("() => document.getElementById('map').dataset.filtered === '1'", timeout=2000)
    shown = await queue_ids(page)
    assert 0 < len(shown) < open_now
    assert await count.get_attribute("data-shown") == str(len(shown))
    assert await count.get_attribute("data-total") == str(open_now)
    assert f"{len(shown)} affiché" in await count.inner_text() and f"/ {open_now} ouvert" in await count.inner_text()
    assert (await page.get_attribute("#map", "data-shown") or "").split(",") == shown
    await page.fill("#f-search", "")

    # a sector filter: the map shows that sector's incidents and no others
    await page.select_option("#f-sector", "plage")
    await page.wait_for_function(
        "() => [...document.querySelectorAll('#queue .incident')].every(r => r.querySelector('.inc-sector').textContent.startsWith('Narbonne-Plage'))",
        timeout=3000,
    )
    await page.wait_for_function(
        "() => document.getElementById('map').dataset.shown === [...document.querySelectorAll('#queue .incident')].filter(r => !r.hidden).map(r => r.dataset.incident).join(',')",
        timeout=3000,
    )
    plage = await queue_ids(page)
    async with site.http(site.supervisor) as http:
        api_plage = {i["id"] for i in (await http.get("/api/incidents?status=open&sector=plage&limit=5000")).json()}
    assert {int(i) for i in plage} == api_plage
    # the hexagons of the whole city give way to the queue's points
    markers = await page.evaluate("() => document.querySelectorAll('#map .leaflet-overlay-pane path').length")
    assert markers >= len(plage)
    assert await page.locator("#map .hex-count").count() == 0

    # and a category filter too
    await page.select_option("#f-sector", "")
    await page.select_option("#f-category", "fire")
    await page.wait_for_function(
        "() => document.getElementById('map').dataset.shown === [...document.querySelectorAll('#queue .incident')].filter(r => !r.hidden).map(r => r.dataset.incident).join(',')",
        timeout=3000,
    )
    async with site.http(site.supervisor) as http:
        api_fire = {i["id"] for i in (await http.get("/api/incidents?status=open&category=fire&limit=5000")).json()}
    assert {int(i) for i in await queue_ids(page)} == api_fire
    await page.select_option("#f-category", "")
    await page.wait_for_function("() => document.getElementById('map').dataset.filtered === '0'", timeout=2000)
    assert not desk.console_errors(), desk.errors
    await desk.close()


async def test_urgent_and_city_wide_broadcasts_ask_with_the_count(browser: Any, site: Site) -> None:
    desk = await open_tab(browser, site, "/ops", site.supervisor)
    page = desk.page
    await wait_live(page)
    async with site.http(site.supervisor) as http:
        everyone = (await http.post("/api/broadcasts/preview", json={"sectors": "all"})).json()["recipients"]
    assert everyone == len(site.residents)

    await page.check('#composer input[name="target"][value="all"]')
    await page.fill("#c-text", "Exercice d'alerte : aucune action requise")
    await page.click("#c-send")
    await page.wait_for_selector("#confirm-action[open]", timeout=3000)
    assert await page.get_attribute("#confirm-action", "data-count") == str(everyone)
    assert f"{everyone} résidents dans toute la ville" in await page.inner_text("#ca-text")
    await page.keyboard.press("Escape")
    await page.wait_for_function(
        "() => document.getElementById('c-result').textContent.includes('annulé')", timeout=2000
    )
    assert await page.get_attribute("#c-result", "data-recipients") is None

    await page.click("#c-send")
    await page.wait_for_selector("#confirm-action[open]", timeout=3000)
    await page.click("#ca-yes")
    await page.wait_for_function(
        "n => document.getElementById('c-result').dataset.recipients === String(n)", arg=everyone, timeout=3000
    )

    # one sector at information level goes at once, without a question
    await page.check('#composer input[name="target"][value="sectors"]')
    await page.locator('#c-sectors input[value="plage"]').check()
    await page.select_option("#c-level", "info")
    await page.fill("#c-text", "Marché nocturne ce soir")
    await page.click("#c-send")
    n_plage = sum(1 for r in site.residents if r.sector == "plage")
    await page.wait_for_function(
        "n => document.getElementById('c-result').dataset.recipients === String(n)", arg=n_plage, timeout=3000
    )
    assert await page.locator("#confirm-action[open]").count() == 0
    assert not desk.console_errors(), desk.errors
    await desk.close()


async def test_polygon_drawn_by_clicks_previews_what_the_broadcast_reaches(browser: Any, site: Site, axe: str) -> None:
    desk = await open_tab(browser, site, "/ops", site.supervisor)
    page = desk.page
    await wait_live(page)
    await page.check('#composer input[name="target"][value="polygon"]')
    box = await page.locator("#map").bounding_box()

    def at(fx: float, fy: float) -> tuple[float, float]:
        return box["x"] + box["width"] * fx, box["y"] + box["height"] * fy

    # (the legend sits along the bottom: the zone stays clear of it)
    for fx, fy in [(0.2, 0.2), (0.8, 0.25), (0.9, 0.7)]:
        await page.mouse.click(*at(fx, fy))
    # a fourth vertex by mistake, taken back with Backspace (focus on the page)
    await page.mouse.click(*at(0.5, 0.5))
    await page.wait_for_function("() => document.getElementById('map').dataset.vertices === '4'")
    await page.keyboard.press("Backspace")
    await page.wait_for_function("() => document.getElementById('map').dataset.vertices === '3'")
    await page.mouse.click(*at(0.15, 0.75))
    await page.keyboard.press("Enter")
    await page.wait_for_function("() => document.getElementById('map').dataset.zone === 'closed'")
    # a click after closing adds nothing
    await page.mouse.click(*at(0.5, 0.1))
    assert await page.get_attribute("#map", "data-vertices") == "4"
    await page.wait_for_function("() => Number(document.getElementById('c-preview').dataset.count) > 0", timeout=3000)
    preview = int(await page.get_attribute("#c-preview", "data-count"))
    assert preview < len(site.residents)
    await screenshot(page, "desk-zone.png")
    assert await run_axe(page, axe) == []

    await page.fill("#c-text", "Coupure d'eau dans la zone jusqu'à 18 h")
    await page.click("#c-send")
    await page.wait_for_function(
        "() => document.getElementById('c-result').dataset.recipients !== undefined", timeout=3000
    )
    assert int(await page.get_attribute("#c-result", "data-recipients")) == preview

    # Escape starts the drawing again
    await page.locator("#map").focus()
    await page.keyboard.press("Escape")
    await page.wait_for_function("() => document.getElementById('map').dataset.vertices === '0'")
    await page.wait_for_function("() => document.getElementById('c-preview').textContent === '—'", timeout=2000)
    assert not desk.console_errors(), desk.errors
    await desk.close()


async def test_history_and_deadline_name_the_staff_member(browser: Any, site: Site) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from tests.e2e import PASSWORD
    from tests.seed import Seeded
    from tests.support import dispatch_cli, login

    name = "Brigadière Durand"
    email = "durand@example.org"
    args = ["user", "add", "--role", "dispatcher", "--email", email, "--password", PASSWORD, "--name", name]
    dispatch_cli(*args, env=site.env)
    me = await login(site.url, email, PASSWORD)
    durand = Seeded(me.user_id, me.token, "dispatcher")
    alert = await post_alert(
        site, site.residents[3], CENTRE[0] - 0.003, CENTRE[1] + 0.002, "burglary", "Personne âgée seule à la fenêtre"
    )
    inc = alert["incident"]
    async with site.http(site.supervisor) as http:
        got = (await http.get(f"/api/incidents/{inc}")).json()
    due = got["ack_due_at"]
    assert got["vulnerable"] is True

    def hhmm(iso: str) -> str:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(ZoneInfo("Europe/Paris")).strftime("%H:%M")

    desk = await open_tab(browser, site, "/ops", durand)
    page = desk.page
    await wait_live(page)
    await select_in_queue(page, inc)
    await page.keyboard.press("Enter")
    await page.wait_for_function("id => document.getElementById('detail').dataset.incident === String(id)", arg=inc)
    assert await page.inner_text("#d-due") == f"À prendre en compte avant {hhmm(due)}"
    assert await page.is_visible("#d-vulnerable")  # the marker, in the detail too

    await page.keyboard.press("a")
    await page.wait_for_function(
        "() => document.getElementById('d-due').textContent.startsWith('Pris en compte à')", timeout=3000
    )
    async with site.http(site.supervisor) as http:
        acked = (await http.get(f"/api/incidents/{inc}")).json()["acknowledged_at"]
    assert await page.inner_text("#d-due") == f"Pris en compte à {hhmm(acked)} par {name}"
    await page.wait_for_function(
        "n => document.getElementById('d-history').textContent.includes(n)", arg=name, timeout=3000
    )
    history = await page.inner_text("#d-history")
    assert f"compte {me.user_id}" not in history and "agent n°" not in history
    assert "pris en compte à" not in (await page.inner_text("#detail")).replace("Pris en compte à", "")
    assert not desk.console_errors(), desk.errors
    await desk.close()
