"""The pages take the facts they share with the server from it, and copy
none: roles (core/model.py), statuses (core/lifecycle.py), priority bands
(core/scoring.py) and categories (core/categories.py) reach the scripts
through GET /config (dispatch/http/pages.py), and the map legends are
rendered from the same bands.

Three kinds of proof: the config is the Python constants; the scripts
hold no copy of them (a source scan); and in Chromium, the modules hold
the served values, and a page served a different config behaves by it
(refuses a role, paints another band, shows another word)."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from dispatch.core.categories import CATEGORIES
from dispatch.core.lifecycle import CLOSED, OPEN, STATUSES
from dispatch.core.model import (
    ACCOUNT_ADMIN_ROLES,
    ACCOUNT_STATUSES,
    BROADCAST_LEVELS,
    MODERATOR_ROLES,
    OPERATOR_ROLES,
    RESIDENT_ROLES,
    ROLES,
    STAFF_ROLES,
)
from dispatch.core.notify_settings import CHANNELS
from dispatch.core.scoring import PRIORITY_BANDS
from dispatch.http.pages import ACCOUNT_LABELS, BAND_LABELS, RESIDENT_STATUS_LABELS, STATUS_LABELS, page_config
from tests.browser import CENTRE, PHONE_SIZE, Site, browser, open_tab, post_alert, site, wait_live
from tests.support import REPO

STATIC = REPO / "web" / "static"
TEMPLATES = REPO / "web" / "templates"
SCRIPTS = sorted(STATIC.rglob("*.js"))


def py_band(priority: float) -> str:
    """What the pages' band() must answer, from the Python constant."""
    for name, low in PRIORITY_BANDS:
        if priority >= low:
            return name
    return PRIORITY_BANDS[-1][0]


# -- the config is the Python constants ----------------------------------------------


def test_config_is_the_python_constants() -> None:
    cfg = page_config()
    roles = cfg["roles"]
    assert roles["all"] == list(ROLES)
    assert set(roles["staff"]) == STAFF_ROLES and len(roles["staff"]) == len(STAFF_ROLES)
    assert set(roles["operator"]) == OPERATOR_ROLES and len(roles["operator"]) == len(OPERATOR_ROLES)
    assert set(roles["resident"]) == RESIDENT_ROLES and len(roles["resident"]) == len(RESIDENT_ROLES)
    assert roles["moderation"] == [r for r in ROLES if r in ACCOUNT_ADMIN_ROLES]
    assert roles["moderator"] == [r for r in ROLES if r in MODERATOR_ROLES]
    assert cfg["accounts"]["statuses"] == list(ACCOUNT_STATUSES)
    assert set(ACCOUNT_LABELS) == set(ACCOUNT_STATUSES)  # every standing has its words
    assert cfg["accounts"]["labels"] == ACCOUNT_LABELS
    assert cfg["statuses"]["open"] == list(OPEN)
    assert cfg["statuses"]["closed"] == list(CLOSED)
    # every status has its word (none falls back to its code)
    assert set(STATUS_LABELS) == set(STATUSES)
    assert cfg["statuses"]["labels"] == STATUS_LABELS
    # issue 18: a resident's words for their own alert, one per state, and
    # every staff status maps to one (so the resident page and the desk agree)
    res = cfg["resident_statuses"]
    assert set(res["of"]) == set(STATUSES) and set(res["of"].values()) == set(res["labels"])
    assert {res["of"][s] for s in OPEN} == set(OPEN) and {res["of"][s] for s in CLOSED} == {"resolved"}
    assert res["labels"] == RESIDENT_STATUS_LABELS and all(res["labels"].values())
    assert [(b["id"], b["min"]) for b in cfg["bands"]] == list(PRIORITY_BANDS)
    assert set(BAND_LABELS) == {b for b, _ in PRIORITY_BANDS}
    assert [b["label"] for b in cfg["bands"]] == [BAND_LABELS[b] for b, _ in PRIORITY_BANDS]
    assert cfg["categories"] == [c.as_dict() for c in CATEGORIES.values()]
    # issue 19: broadcast levels and delivery channels, each with its word
    assert [lv["id"] for lv in cfg["levels"]] == list(BROADCAST_LEVELS)
    assert [c["id"] for c in cfg["channels"]] == list(CHANNELS)
    assert all(x["label"] != x["id"] for x in [*cfg["levels"], *cfg["channels"]])
    json.dumps(cfg, allow_nan=False)  # plain JSON: no infinity for the last band


def test_bands_go_down_and_each_has_its_colours() -> None:
    lows = [low for _, low in PRIORITY_BANDS]
    assert lows == sorted(lows, reverse=True) and len(set(lows)) == len(lows)
    css = (STATIC / "app.css").read_text(encoding="utf-8")
    hexes = (STATIC / "map" / "hexes.js").read_text(encoding="utf-8")
    for name, _ in PRIORITY_BANDS:
        assert f".swatch.band-{name}" in css and f".incident.band-{name}" in css, name
        assert re.search(rf'\b{name}: "#[0-9a-f]{{6}}"', hexes), f"no map colour for band {name}"


# -- the scripts copy none of it ---------------------------------------------------------


def _quoted(words: Any) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(w) for w in words)
    return re.compile(r"""["'`](""" + alternatives + r""")["'`]""")


def test_no_script_copies_a_server_fact() -> None:
    assert len(SCRIPTS) > 10, SCRIPTS  # the scan sees the modules
    role = _quoted(ROLES)
    category = _quoted(CATEGORIES)
    status = re.compile(r"""["']?\b(""" + "|".join(STATUSES) + r""")\b["']?\s*[,:\]]""")
    threshold = re.compile(r"priority\s*[<>]=?\s*\d")
    for path in SCRIPTS:
        name = str(path.relative_to(REPO))
        src = path.read_text(encoding="utf-8")
        assert not role.search(src), f"{name} names a role: {role.search(src).group(0)}"  # type: ignore[union-attr]
        assert not category.search(src), f"{name} names a category: {category.search(src).group(0)}"  # type: ignore[union-attr]
        assert not threshold.search(src), f"{name} compares a priority with a number"
        # a list or table of statuses: two status codes in one [...] or {...}
        for literal in re.findall(r"\[[^\[\]]*\]|\{[^{}]*\}", src):
            found = {m.group(1) for m in status.finditer(literal)}
            assert len(found) < 2, f"{name} lists statuses: {literal[:80]}"
        assert "window.Dispatch" not in src and "Dispatch." not in src, f"{name} uses the old global"


def test_pages_load_their_code_as_modules() -> None:
    for path in sorted(TEMPLATES.glob("*.html")):
        html = path.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", html):
            src = re.search(r'src="([^"]+)"', tag)
            assert src, f"{path.name}: {tag}"
            if src.group(1).startswith("/static/"):
                assert 'type="module"' in tag, f"{path.name}: {tag} is a classic script"
            else:
                # vendor libraries, served by us: Leaflet (PyPI), Chart.js (npm)
                assert src.group(1) in ("/vendor/leaflet/leaflet.js", "/vendor/chart.js/chart.umd.min.js"), tag


# -- served, and used, by the pages ------------------------------------------------------


@pytest.mark.browser
async def test_config_route_is_public_and_the_legend_follows_it(site: Site) -> None:
    async with httpx.AsyncClient(base_url=site.url) as http:  # logged out: the login gate needs the roles
        r = await http.get("/config")
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "no-store"
        assert r.json() == page_config()
        for path in ("/ops", "/ops/wall"):
            html = (await http.get(path)).text
            legend = re.findall(r'<li><span class="swatch band-(\w+)"></span>([^<]+)</li>', html)
            assert legend == [(b, BAND_LABELS[b]) for b, _ in PRIORITY_BANDS], path


CONFIG_IN_PAGE = """async () => {
    const m = await import('/static/shared/config.js');
    return { roles: m.ROLES, open: m.OPEN_STATUSES, closed: m.CLOSED_STATUSES, labels: m.STATUS_LABELS,
             bands: m.BANDS, categories: m.CATEGORIES };
}"""


@pytest.mark.browser
async def test_the_page_modules_hold_the_served_values(browser: Any, site: Site) -> None:
    tab = await open_tab(browser, site, "/ops", site.supervisor)
    page = tab.page
    await wait_live(page)
    cfg = page_config()
    got = await page.evaluate(CONFIG_IN_PAGE)
    assert got == {
        "roles": cfg["roles"],
        "open": cfg["statuses"]["open"],
        "closed": cfg["statuses"]["closed"],
        "labels": cfg["statuses"]["labels"],
        "bands": cfg["bands"],
        "categories": cfg["categories"],
    }
    # the page's band() at and around every threshold, against the constant
    cases = sorted({p for _, low in PRIORITY_BANDS for p in (low - 0.5, low, low + 0.5)} | {1000.0})
    bands = await page.evaluate(
        "async ps => { const { band } = await import('/static/shared/status.js'); return ps.map(band); }", cases
    )
    assert bands == [py_band(p) for p in cases]
    assert not tab.console_errors(), tab.errors
    await tab.close()


async def serve_config(page: Any, change: Any) -> None:
    """From now on the page gets the server's config as `change` edits it;
    then reload, so that the page starts from it."""

    async def handle(route: Any) -> None:
        resp = await route.fetch()
        body = await resp.json()
        change(body)
        await route.fulfill(response=resp, json=body)

    await page.route(re.compile(r"/config$"), handle)
    await page.reload()


@pytest.mark.browser
async def test_pages_follow_the_config_they_are_served(browser: Any, site: Site) -> None:
    # the operational picture without the supervisor: the desk turns the supervisor away
    desk = await open_tab(browser, site, "/ops", site.supervisor)
    await serve_config(desk.page, lambda c: c["roles"].update(ops=[r for r in c["roles"]["ops"] if r != "supervisor"]))
    await desk.page.wait_for_function(
        "() => document.querySelector('.login-error').textContent.includes(\"n'a pas accès\")", timeout=5000
    )
    assert await desk.page.locator("#app").is_hidden()
    assert not desk.console_errors(), desk.errors
    await desk.close()

    # and the resident page turns residents away when they are not listed
    home = await open_tab(browser, site, "/", site.residents[0], size=PHONE_SIZE)
    await serve_config(home.page, lambda c: c["roles"].update(resident=[]))
    await home.page.wait_for_function(
        "() => document.querySelector('.login-error').textContent.includes(\"n'a pas accès\")", timeout=5000
    )
    assert not home.console_errors(), home.errors
    await home.close()

    # every priority urgent, other words, and nobody an operator
    alert = await post_alert(site, site.residents[1], CENTRE[0], CENTRE[1], "vandalism")
    inc = alert["incident"]

    def change(c: dict[str, Any]) -> None:
        c["bands"][0]["min"] = 0
        c["statuses"]["labels"]["new"] = "À trier"
        c["roles"]["operator"] = []
        for cat in c["categories"]:
            if cat["id"] == "vandalism":
                cat["label"] = "Dégradation"

    desk = await open_tab(browser, site, "/ops", site.dispatcher)
    await serve_config(desk.page, change)
    page = desk.page
    await wait_live(page)
    row = page.locator(f'#queue .incident[data-incident="{inc}"]')
    await row.wait_for(timeout=3000)
    assert await row.get_attribute("data-band") == PRIORITY_BANDS[0][0]
    assert py_band(alert["priority"]) != PRIORITY_BANDS[0][0]  # it is the served bands that made it so
    assert await row.locator(".inc-status").inner_text() == "À trier"
    assert await row.locator(".inc-cat").inner_text() == "Dégradation"
    await row.click()
    await page.wait_for_function("id => document.getElementById('detail').dataset.incident === String(id)", arg=inc)
    await page.click('#detail button[data-status="acknowledged"]')
    await page.wait_for_function(
        "() => document.getElementById('d-message').textContent.includes('ne permet pas')", timeout=2000
    )
    async with site.http(site.dispatcher) as http:
        assert (await http.get(f"/api/incidents/{inc}")).json()["status"] == "new"  # nothing was sent
    assert not desk.console_errors(), desk.errors
    await desk.close()
