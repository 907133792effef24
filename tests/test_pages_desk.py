"""The supervisor's desk in a real Chromium: keyboard triage seen live on a
second screen, the broadcast composer against two residents' pages, and
the detail panel's actions (assign, pin, merge, split) through the API."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.browser import (
    CENTRE,
    PHONE_SIZE,
    PLAGE,
    ROCHES,
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

pytestmark = pytest.mark.browser


async def select_in_queue(page: Any, incident: int) -> None:
    """Walk the queue with j (then k) until `incident` is the selected row."""
    row = page.locator(f'#queue .incident[data-incident="{incident}"]')
    await row.wait_for(timeout=3000)
    await page.locator("#queue .incident.selected").first.wait_for(timeout=3000)
    for key in ("j", "k"):
        for _ in range(200):
            if await page.get_attribute("#queue .incident.selected", "data-incident") == str(incident):
                return
            before = await page.get_attribute("#queue .incident.selected", "data-incident")
            await page.keyboard.press(key)
            if await page.get_attribute("#queue .incident.selected", "data-incident") == before:
                break  # end of the list: walk back the other way
    raise AssertionError(f"incident {incident} never selected")


async def test_keyboard_acknowledge_shows_on_the_wall(browser: Any, site: Site) -> None:
    await scatter_alerts(site, 12, seed_=9)
    alert = await post_alert(site, site.residents[2], PLAGE[0], PLAGE[1], "burglary", "Porte fracturée")
    inc = alert["incident"]
    desk = await open_tab(browser, site, "/ops", site.supervisor)
    wall = await open_tab(browser, site, "/ops/wall", site.dispatcher)
    await wait_live(desk.page)
    await wait_live(wall.page)
    wall_row = wall.page.locator(f'#feed .incident[data-incident="{inc}"]')
    await wall_row.wait_for(timeout=3000)
    assert await wall_row.get_attribute("data-status") == "new"
    acked_before = int(await wall.page.inner_text("#count-acknowledged"))

    page = desk.page
    await select_in_queue(page, inc)
    await page.keyboard.press("Enter")
    await page.wait_for_function(
        "id => document.getElementById('detail').dataset.incident === String(id)", arg=inc, timeout=3000
    )
    assert "Porte fracturée" in await page.inner_text("#d-alerts")
    # staff see the exact point and the author
    alerts_text = await page.inner_text("#d-alerts")
    assert f"{alert['lat']:.5f}, {alert['lon']:.5f}" in alerts_text
    assert f"compte {alert['author']}" in alerts_text
    assert "," in await page.inner_text("#d-position")

    t0 = time.monotonic()
    await page.keyboard.press("a")
    await wall.page.wait_for_selector(
        f'#feed .incident[data-incident="{inc}"][data-status="acknowledged"]', timeout=2000
    )
    assert time.monotonic() - t0 < 2.0
    await wall.page.wait_for_function(
        "n => document.getElementById('count-acknowledged').textContent === String(n)",
        arg=acked_before + 1,
        timeout=2000,
    )
    # the desk itself updates from the stream too
    await page.wait_for_selector(f'#queue .incident[data-incident="{inc}"][data-status="acknowledged"]', timeout=2000)
    await page.wait_for_function(
        "() => document.getElementById('d-history').textContent.includes('Pris en compte')", timeout=2000
    )

    # r asks first (tests/test_pages_desk_safety.py); Enter confirms
    await page.keyboard.press("r")
    await page.wait_for_selector("#confirm-action[open]", timeout=2000)
    await page.keyboard.press("Enter")
    await wall.page.wait_for_selector(
        f'#feed .incident.closed[data-incident="{inc}"][data-status="resolved"]', timeout=2000
    )
    # resolved leaves the "open" queue
    await page.wait_for_selector(f'#queue .incident[data-incident="{inc}"]', state="detached", timeout=2000)

    # "/" focuses the filter
    await page.keyboard.press("/")
    assert await page.evaluate("() => document.activeElement.id") == "f-search"

    assert not desk.console_errors(), desk.errors
    assert not wall.console_errors(), wall.errors
    await desk.close()
    await wall.close()


async def test_broadcast_reaches_one_sector_only(browser: Any, site: Site) -> None:
    centre_res, plage_res = site.residents[0], site.residents[2]
    assert centre_res.sector == "centre" and plage_res.sector == "plage"
    near = await open_tab(browser, site, "/", centre_res, size=PHONE_SIZE)
    far = await open_tab(browser, site, "/", plage_res, size=PHONE_SIZE)
    desk = await open_tab(browser, site, "/ops", site.supervisor)
    for t in (near, far, desk):
        await wait_live(t.page)
    page = desk.page

    # the sector picked on the map: a click inside the Centre-ville outline
    await page.locator('#c-sectors input[value="centre"]').check()
    await page.wait_for_function("() => document.getElementById('c-preview').dataset.count > 0", timeout=3000)
    preview = int(await page.get_attribute("#c-preview", "data-count"))
    async with site.http(site.supervisor) as http:
        api_preview = (await http.post("/api/broadcasts/preview", json={"sectors": ["centre"]})).json()["recipients"]
    assert preview == api_preview == sum(1 for r in site.residents if r.sector == "centre")

    await page.select_option("#c-level", "urgent")
    text = "Fuite de gaz rue Droite : évitez le secteur"
    await page.fill("#c-text", text)
    await page.click("#c-send")
    # urgent: the count is shown, and asked for
    await page.wait_for_selector("#confirm-action[open]", timeout=3000)
    assert int(await page.get_attribute("#confirm-action", "data-count")) == preview
    assert f"{preview} résident" in await page.inner_text("#ca-text")
    await page.click("#ca-yes")
    await page.wait_for_function(
        "() => document.getElementById('c-result').dataset.recipients !== undefined", timeout=3000
    )
    assert int(await page.get_attribute("#c-result", "data-recipients")) == preview

    card = near.page.locator("#messages .card", has_text=text)
    await card.wait_for(timeout=2000)
    assert "urgent" in (await card.get_attribute("class") or "")
    await far.page.wait_for_timeout(1500)
    assert await far.page.locator("#messages .card", has_text=text).count() == 0

    # a circle: pick the centre on the map, the preview follows the radius
    await page.check('#composer input[name="target"][value="circle"]')
    box = await page.locator("#map").bounding_box()
    await page.mouse.click(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.45)
    await page.wait_for_function("() => document.getElementById('c-centre').textContent.includes(',')", timeout=2000)
    await page.fill("#c-radius", "20000")
    await page.wait_for_function(
        "n => Number(document.getElementById('c-preview').dataset.count) === n", arg=len(site.residents), timeout=3000
    )
    for t in (near, far, desk):
        assert not t.console_errors(), (t.page.url, t.errors)
        await t.close()


async def test_detail_actions_assign_pin_merge_split(browser: Any, site: Site, axe: str) -> None:
    async with site.http(site.supervisor) as http:
        r = await http.post("/api/units", json={"name": "Patrouille 7"})
        assert r.status_code == 201, r.text
        unit = r.json()
    a1 = await post_alert(site, site.residents[3], ROCHES[0], ROCHES[1], "vandalism", "Abribus brisé")
    a2 = await post_alert(site, site.residents[0], CENTRE[0] + 0.004, CENTRE[1] - 0.004, "theft", "Sac arraché")
    i1, i2 = a1["incident"], a2["incident"]
    assert i1 != i2
    desk = await open_tab(browser, site, "/ops", site.supervisor)
    page = desk.page
    await wait_live(page)
    await page.wait_for_function(
        "id => !!document.querySelector(`#d-unit-select option[value='${id}']`)", arg=unit["id"]
    )

    await page.click(f'#queue .incident[data-incident="{i1}"]')
    await page.wait_for_function("id => document.getElementById('detail').dataset.incident === String(id)", arg=i1)

    async def incident(i: int) -> dict[str, Any]:
        async with site.http(site.supervisor) as http:
            return dict((await http.get(f"/api/incidents/{i}")).json())

    async def until(pred: Any, i: int) -> dict[str, Any]:
        for _ in range(40):
            got = await incident(i)
            if pred(got):
                return got
            await page.wait_for_timeout(100)
        raise AssertionError(got)

    await page.select_option("#d-unit-select", str(unit["id"]))
    await page.click("#d-assign")
    got = await until(lambda x: x["unit"] is not None, i1)
    assert got["unit"]["id"] == unit["id"] and got["status"] == "assigned"
    await page.wait_for_function(
        "() => document.getElementById('d-unit').textContent.includes('Patrouille 7')", timeout=2000
    )

    await page.fill("#d-priority-input", "99")
    await page.click("#d-pin")
    got = await until(lambda x: x["pinned"], i1)
    assert got["priority"] == 99
    # pinned to 99, it tops the queue
    await page.wait_for_function(
        "id => document.querySelector('#queue .incident').dataset.incident === String(id)", arg=i1, timeout=2000
    )

    await page.fill("#d-merge", str(i2))
    await page.click("#d-merge-go")
    got = await until(lambda x: a2["id"] in x["alerts"], i1)
    assert sorted(got["alerts"]) == sorted([a1["id"], a2["id"]])
    await page.wait_for_selector(f"#split-{a2['id']}", timeout=2000)
    await page.wait_for_selector(f'#queue .incident[data-incident="{i2}"]', state="detached", timeout=2000)

    await page.check(f"#split-{a2['id']}")
    await page.click("#d-split")
    got = await until(lambda x: a2["id"] not in x["alerts"], i1)
    assert got["alerts"] == [a1["id"]]
    await page.wait_for_function(
        "() => /Nouvel incident n° \\d+/.test(document.getElementById('d-message').textContent)", timeout=2000
    )

    # filters: one sector only
    await page.select_option("#f-sector", "roches-grises")
    await page.wait_for_function(
        "() => [...document.querySelectorAll('#queue .incident')].every(r => r.querySelector('.inc-sector').textContent.startsWith('Roches'))"
    )
    await page.select_option("#f-sector", "")
    await page.select_option("#f-window", "3600")

    await screenshot(page, "desk.png")
    violations = await run_axe(page, axe)
    assert violations == [], violations

    # statistics and hand-over, from the desk
    await page.click("#open-stats")
    await page.wait_for_function(
        "() => document.getElementById('stats-body').textContent.includes('Alertes par secteur')", timeout=3000
    )
    assert await run_axe(page, axe) == []
    await page.keyboard.press("Escape")
    await page.click("#open-handover")
    await page.wait_for_function(
        "() => document.getElementById('handover-body').textContent.includes('En cours')", timeout=3000
    )
    await page.select_option("#h-sector", "roches-grises")
    await page.wait_for_function(
        "() => document.getElementById('handover-body').textContent.includes('Vandalisme')", timeout=3000
    )
    await page.keyboard.press("Escape")
    assert not desk.console_errors(), desk.errors
    await desk.close()
