"""The desk's statistics as charts (issue 18 §6), in a real Chromium: Chart.js
comes from npm (package.json) and is served by the server itself under the
strict CSP, the charts render with no console error, and the numbers each
chart holds (Chart.getChart(canvas).data) are /api/stats's own; the tables
beside them say the same for screen readers."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from dispatch.http.pages import CHART_JS, CHART_JS_DIR
from tests.browser import (
    CENTRE,
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


async def test_chart_js_is_served_locally(site: Site) -> None:
    assert (CHART_JS_DIR / CHART_JS).is_file(), "npm ci brings chart.js (package.json dependencies)"
    async with httpx.AsyncClient(base_url=site.url) as http:
        r = await http.get(f"/vendor/chart.js/{CHART_JS}")
        assert r.status_code == 200 and "javascript" in r.headers["content-type"]
        assert b"Chart" in r.content[:2000]
        page = (await http.get("/ops")).text
        assert f'<script src="/vendor/chart.js/{CHART_JS}"></script>' in page
        assert (await http.get("/vendor/chart.js/../package.json")).status_code == 404


async def some_history(site: Site) -> None:
    """Alerts of several categories in several sectors, some incidents
    acknowledged and resolved, so every chart has something to draw."""
    await scatter_alerts(site, 18, seed_=31)
    made = [
        await post_alert(site, site.residents[0], CENTRE[0], CENTRE[1], "solidarity", "Courses pour un voisin"),
        await post_alert(site, site.residents[2], PLAGE[0], PLAGE[1], "fire"),
        await post_alert(site, site.residents[3], ROCHES[0], ROCHES[1], "theft"),
    ]
    async with site.http(site.supervisor) as http:
        for i, a in enumerate(made):
            r = await http.patch(f"/api/incidents/{a['incident']}", json={"status": "acknowledged"})
            assert r.status_code == 200, r.text
            if i != 1:
                r = await http.patch(f"/api/incidents/{a['incident']}", json={"status": "resolved"})
                assert r.status_code == 200, r.text


def chart_data(page: Any, canvas: str) -> Any:
    return page.evaluate(
        """id => {
            const c = Chart.getChart(document.getElementById(id));
            return c ? { type: c.config.type, labels: c.data.labels,
                         datasets: c.data.datasets.map(d => ({ label: d.label, data: d.data })) } : null;
        }""",
        canvas,
    )


async def test_charts_match_the_statistics(browser: Any, site: Site, axe: str) -> None:
    await some_history(site)
    desk = await open_tab(browser, site, "/ops", site.supervisor)
    page = desk.page
    await wait_live(page)
    await page.click("#open-stats")
    await page.wait_for_selector("#stats-body[data-ready='1']", timeout=5000)
    async with site.http(site.supervisor) as http:
        stats = (await http.get("/api/stats")).json()
        labels = {c["id"]: c["label"] for c in (await http.get("/api/categories")).json()}
        names = {
            f["properties"]["id"]: f["properties"]["name"] for f in (await http.get("/api/sectors")).json()["features"]
        }

    # alerts per day by category: one stacked bar per day, one dataset per category
    days = await chart_data(page, "chart-days")
    per_day = stats.get("per_day", stats["counts"])
    want: dict[tuple[str, str], int] = {}
    for r in per_day:
        want[(labels[r["category"]], r["day"])] = want.get((labels[r["category"]], r["day"]), 0) + r["count"]
    got = {(d["label"], day): n for d in days["datasets"] for day, n in zip(days["labels"], d["data"]) if n}
    assert got == want and sum(got.values()) == stats["alerts"]

    # time to acknowledge and to resolve, median and p90, per sector (minutes)
    times = await chart_data(page, "chart-times")
    rows = stats.get("per_sector") or [
        {
            "sector": None,
            "time_to_acknowledge": stats["time_to_acknowledge"],
            "time_to_resolve": stats["time_to_resolve"],
        }
    ]
    assert times["labels"] == [names.get(r["sector"], "Toute la ville") for r in rows]
    series = {d["label"]: d["data"] for d in times["datasets"]}
    for label, what, q in [
        ("Prise en compte, médiane", "time_to_acknowledge", "median_s"),
        ("Prise en compte, 90 %", "time_to_acknowledge", "p90_s"),
        ("Résolution, médiane", "time_to_resolve", "median_s"),
        ("Résolution, 90 %", "time_to_resolve", "p90_s"),
    ]:
        expected = [None if r[what][q] is None else r[what][q] / 60 for r in rows]
        assert series[label] == pytest.approx(expected), label
    assert any(v is not None for v in series["Résolution, médiane"])

    # the share of mutual aid
    share = await chart_data(page, "chart-share")
    assert share["type"] == "doughnut"
    assert share["datasets"][0]["data"] == pytest.approx(
        [stats["solidarity_share"] * 100, (1 - stats["solidarity_share"]) * 100]
    )
    # the tables say it too, for whoever does not see the canvas
    body = await page.inner_text("#stats-body")
    assert "Alertes par jour et par catégorie" in body and "Délais par secteur" in body
    assert f"{round(stats['solidarity_share'] * 100)} %" in body
    assert await page.locator("#stats canvas[role='img'][aria-label]").count() == 3

    await screenshot(page, "statistics.png")
    await page.locator("#chart-times").scroll_into_view_if_needed()
    await screenshot(page, "statistics-times.png")
    assert await run_axe(page, axe) == []
    # opened again: drawn afresh, no error
    await page.keyboard.press("Escape")
    await page.click("#open-stats")
    await page.wait_for_selector("#stats-body[data-ready='1']", timeout=5000)
    assert (await chart_data(page, "chart-days"))["labels"] == days["labels"]
    assert not desk.console_errors(), desk.errors
    await desk.close()


def test_without_npm_the_desk_names_no_chart_script(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The embedded run without `npm ci`: no node_modules, so no script tag
    for a file that is not there (its 404 would be a console error), and the
    mount answers 404 rather than failing at start."""
    from starlette.testclient import TestClient

    from dispatch.http import pages
    from dispatch.http.app import create_app
    from dispatch.settings import REPO_ROOT, load_settings, with_overrides

    monkeypatch.setattr(pages, "CHART_JS_DIR", tmp_path / "no-node-modules")
    url = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    settings = with_overrides(load_settings(REPO_ROOT / "config.toml", env={}), database_url=url)
    with TestClient(create_app(settings)) as client:
        page = client.get("/ops")
        assert page.status_code == 200
        assert "/vendor/chart.js/" not in page.text and "/static/desk.js" in page.text
        assert client.get(f"/vendor/chart.js/{CHART_JS}").status_code == 404


async def test_without_chart_js_the_statistics_are_tables(browser: Any, site: Site) -> None:
    desk = await open_tab(browser, site, "/ops", site.supervisor)
    page = desk.page
    # as if the library were absent: the script runs and defines nothing
    await page.route("**/vendor/chart.js/**", lambda r: r.fulfill(status=200, content_type="text/javascript", body=""))
    await page.reload()
    await wait_live(page)
    assert await page.evaluate("() => typeof window.Chart") == "undefined"
    await page.click("#open-stats")
    await page.wait_for_selector("#stats-body[data-ready='1']", timeout=5000)
    assert await page.locator("#stats canvas").count() == 0
    body = await page.inner_text("#stats-body")
    for caption in ("Alertes par jour et par catégorie", "Délais par secteur", "Part de l'entraide"):
        assert caption in body
    assert not desk.console_errors(), desk.errors
    await desk.close()
