"""The wall under `dispatch simulate` (20 alerts/s for 2 minutes): the newest
alert is on screen within 2 s throughout, and the page does not grow: its
DOM node count and JS heap at the end are within 20% of their values after
the first 30 s (the column and marker layers are capped; the hexagons are
bounded by the city's area)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from typing import Any

import pytest

from tests.browser import Site, browser, open_tab, site, wait_live
from tests.support import REPO

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RATE = 20
DURATION = 120
WARMUP = 30

MEASURE = """() => {
    // two full collections, so the figure is what the page keeps, not garbage
    window.gc(); window.gc();
    return { nodes: document.getElementsByTagName('*').length, heap: performance.memory.usedJSHeapSize };
}"""


async def newest_alert(http: Any) -> int:
    r = await http.get("/api/alerts?limit=1")
    r.raise_for_status()
    body = r.json()
    return int(body[0]["id"]) if body else 0


async def test_wall_keeps_up_and_does_not_grow(browser: Any, site: Site) -> None:
    tab = await open_tab(browser, site, "/ops/wall", site.supervisor)
    page = tab.page
    await wait_live(page)
    start_id = int(await page.get_attribute("#map", "data-last-alert") or 0)

    sim = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dispatch",
            "simulate",
            "--url",
            site.url,
            "--residents",
            "50",
            "--rate",
            str(RATE),
            "--duration",
            str(DURATION),
        ],
        cwd=REPO,
        env={**os.environ, **site.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lags: list[float] = []
    early: dict[str, int] | None = None
    try:
        async with site.http(site.supervisor) as http:
            # the simulator first creates and logs in its residents
            deadline = time.monotonic() + 60
            while await newest_alert(http) <= start_id:
                assert sim.poll() is None, sim.stderr.read() if sim.stderr else ""
                assert time.monotonic() < deadline, "simulate sent nothing"
                await page.wait_for_timeout(200)
            flowing = time.monotonic()
            while sim.poll() is None:
                newest = await newest_alert(http)
                t0 = time.monotonic()
                await page.wait_for_function(
                    "id => Number(document.getElementById('map').dataset.lastAlert) >= id", arg=newest, timeout=2000
                )
                lags.append(time.monotonic() - t0)
                if early is None and time.monotonic() - flowing >= WARMUP:
                    early = await page.evaluate(MEASURE)
                await page.wait_for_timeout(1000)
            out, err = sim.communicate(timeout=30)
            assert sim.returncode == 0, err[-2000:]
            # the one-line summary: "simulate: N alerts sent, M accepted, ..."
            sent = int(re.search(r"(\d+) accepted", out.strip().splitlines()[-1]).group(1))
            assert sent >= RATE * DURATION * 0.9
            newest = await newest_alert(http)
            await page.wait_for_function(
                "id => Number(document.getElementById('map').dataset.lastAlert) >= id", arg=newest, timeout=2000
            )
    finally:
        if sim.poll() is None:
            sim.kill()
            sim.wait()
    late = await page.evaluate(MEASURE)
    assert early is not None
    print(
        f"\nwall under load: {len(lags)} checks, worst lag {max(lags):.3f} s; "
        f"nodes {early['nodes']} -> {late['nodes']}, heap {early['heap'] / 1e6:.2f} MB -> {late['heap'] / 1e6:.2f} MB"
    )
    assert len(lags) >= DURATION // 3
    assert abs(late["nodes"] - early["nodes"]) <= 0.2 * early["nodes"], (early, late)
    assert abs(late["heap"] - early["heap"]) <= 0.2 * early["heap"], (early, late)
    # still live, and the counts add up to what is open
    assert await page.get_attribute("#light", "data-state") == "on"
    assert not tab.console_errors(), tab.errors
    await tab.close()
