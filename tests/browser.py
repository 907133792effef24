"""Shared Playwright fixtures for the page tests: Debian's Chromium driven by
Playwright's async API (the suite's event loop is session-scoped, so one
browser serves every test), a real `dispatch serve` with seeded accounts,
and helpers that every page test uses: console-error capture, offline map
tiles, axe-core, screenshots.

Chromium missing: the tests skip, except under CI=true where they fail
(.ci/run installs it with apt-get).

Map tiles: the configured tile server is on the internet, which neither the
developers' machines nor CI reach. Every request that leaves 127.0.0.1 is
answered here by the test (204 No Content by default: an image that fails
to decode, which is exactly what the pages must survive, without the
"Failed to load resource" console error a refused connection would add),
and recorded, so a test can also assert that nothing else (no CDN) is
fetched from outside."""

from __future__ import annotations

import asyncio
import os
import random
import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from dispatch.settings import load_settings
from geo import load_city
from tests.conftest import IN_CI, free_port
from tests.e2e import config_copy, embedded_env
from tests.seed import Seeded, seed
from tests.support import REPO, Server

CHROMIUM = os.environ.get("DISPATCH_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # performance.memory with real numbers, and gc() for stable measurements
    "--enable-precise-memory-info",
    "--js-flags=--expose-gc",
]
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = REPO / "docs" / "screenshots"
WALL_SIZE = {"width": 1920, "height": 1080}
PHONE_SIZE = {"width": 360, "height": 780}
SESSION_COOKIE = "dispatch_session"

# Points inside the demo city, and which sector they fall in.
CENTRE = (43.1837, 3.0042)  # centre
PLAGE = (43.1600, 3.1450)  # plage
ROCHES = (43.1650, 2.9900)  # roches-grises

TRANSPARENT_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def _skip_or_fail(msg: str) -> None:
    if IN_CI:
        pytest.fail(msg + " (CI=true: a missing browser tool is a failure)")
    pytest.skip(msg)


def require_chromium() -> None:
    if not (os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _skip_or_fail(f"Chromium not found at {CHROMIUM}")
    try:
        import playwright.async_api
    except ImportError:
        _skip_or_fail("the playwright package is not installed")


def axe_source() -> str:
    """axe-core comes from npm (package.json, devDependencies); install it
    on first use so that the README's test command is enough."""
    if not AXE.exists():
        npm = shutil.which("npm")
        if npm is None:
            _skip_or_fail("npm is needed to install axe-core (package.json)")
        cmd = [npm, "ci" if (REPO / "package-lock.json").exists() else "install", "--no-audit", "--no-fund"]
        done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
        if done.returncode != 0 or not AXE.exists():
            _skip_or_fail(f"could not install axe-core with npm: {done.stderr[-2000:]}")
    return AXE.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    require_chromium()
    from playwright.async_api import async_playwright

    pw = await async_playwright().start()
    b = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield b
    finally:
        await b.close()
        await pw.stop()


@pytest.fixture(scope="session")
def axe() -> str:
    return axe_source()


# -- a running server with known accounts ---------------------------------------------


@dataclass
class Site:
    server: Server
    env: dict[str, str]
    tmp: Path
    supervisor: Seeded
    dispatcher: Seeded
    residents: list[Seeded]  # see HOMES
    city: Any

    @property
    def url(self) -> str:
        return self.server.url

    def http(self, who: Seeded) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, headers={"Authorization": f"Bearer {who.token}"}, timeout=10)

    def restart(self) -> None:
        self.server.start()


# Residents' homes: two in the centre, one at the beach, one in Roches Grises,
# then a crowd spread over the city so the broadcast counts are not trivial.
def _homes(city: Any) -> list[tuple[float, float]]:
    rng = random.Random(11)
    return [CENTRE, (CENTRE[0] + 0.001, CENTRE[1] + 0.0012), PLAGE, ROCHES] + [
        city.random_point(rng) for _ in range(40)
    ]


def make_site(tmp: Path, extra_config: str = "") -> Site:
    """A seeded server; `extra_config` is TOML appended to a copy of the
    shipped config.toml (e.g. a short acknowledgement target)."""
    env = embedded_env(tmp)
    if extra_config:
        env |= {"DISPATCH_CONFIG": str(config_copy(tmp, extra_config))}
    settings = load_settings(env={**os.environ, **env})
    city = load_city(settings.city_sectors)
    residents, staff = _seed_in_thread(env["DISPATCH_DATABASE_URL"], city)
    server = Server(free_port(), env, log_path=tmp / "server.log")
    server.start()
    return Site(server, env, tmp, staff[0], staff[1], residents, city)


def _seed_in_thread(db_url: str, city: Any) -> tuple[list[Seeded], list[Seeded]]:
    # on a thread and a loop of its own: never disturb the suite's event loop
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(
            lambda: asyncio.run(seed(db_url, city, _homes(city), staff=["supervisor", "dispatcher"]))
        ).result()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    require_chromium()
    s = make_site(tmp_path_factory.mktemp("site"))
    try:
        yield s
    finally:
        s.server.stop()


# -- pages -------------------------------------------------------------------------------


@dataclass
class Tab:
    context: Any
    page: Any
    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)  # URLs requested off 127.0.0.1
    frames: list[str] = field(default_factory=list)  # WebSocket frames received

    def console_errors(self, ignore: tuple[str, ...] = ()) -> list[str]:
        return [e for e in self.errors if not any(re.search(p, e) for p in ignore)]

    async def close(self) -> None:
        await self.context.close()


async def open_tab(
    browser: Any,
    site: Site,
    path: str,
    who: Seeded | None,
    size: dict[str, int] = WALL_SIZE,
    tiles: str = "offline",
    **context_args: Any,
) -> Tab:
    """A fresh browser context (its own cookies) on `path`, logged in as `who`
    (the seeded session token as the session cookie: the login form itself
    is tested once, in test_pages_resident)."""
    context = await browser.new_context(viewport=size, locale="fr-FR", timezone_id="Europe/Paris", **context_args)
    if who is not None:
        await context.add_cookies([{"name": SESSION_COOKIE, "value": who.token, "url": site.url}])
    page = await context.new_page()
    tab = Tab(context, page)
    page.on("console", lambda m: tab.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: tab.errors.append(f"uncaught: {exc}"))
    page.on(
        "websocket",
        lambda ws: ws.on(
            "framereceived",
            lambda payload: tab.frames.append(payload if isinstance(payload, str) else payload.decode()),
        ),
    )

    async def outside(route: Any) -> None:
        tab.outside.append(route.request.url)
        if tiles == "online" and route.request.resource_type == "image":
            await route.fulfill(status=200, content_type="image/png", body=TRANSPARENT_PNG)
        else:
            await route.fulfill(status=204)

    await context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), outside)
    await page.goto(site.url + path)
    return tab


async def run_axe(page: Any, axe_js: str) -> list[dict[str, Any]]:
    """axe-core's WCAG 2 A and AA rules (color-contrast and label among them).
    Injected through the DevTools protocol (page.evaluate), which the page's
    CSP does not apply to; add_script_tag would insert an inline script the
    CSP rightly refuses."""
    await page.evaluate(axe_js)
    result = await page.evaluate(
        """async () => {
            const r = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
            return r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' :: ' + n.failureSummary) }));
        }"""
    )
    return list(result)


async def screenshot(page: Any, name: str, full_page: bool = False) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    await page.screenshot(path=str(path), full_page=full_page)
    return path


async def wait_live(page: Any, timeout: float = 10_000) -> None:
    await page.wait_for_selector('#light[data-state="on"]', timeout=timeout)


async def post_alert(
    site: Site, who: Seeded, lat: float, lon: float, category: str = "theft", text: str = ""
) -> dict[str, Any]:
    async with site.http(who) as http:
        body: dict[str, Any] = {"category": category, "lat": lat, "lon": lon}
        if text:
            body["text"] = text
        r = await http.post("/api/alerts", json=body)
        assert r.status_code in (200, 201), r.text
        return dict(r.json())


async def scatter_alerts(site: Site, n: int, seed_: int = 5) -> list[dict[str, Any]]:
    """n alerts at random points of the city, from random seeded residents."""
    rng = random.Random(seed_)
    cats = ["theft", "suspicious", "vandalism", "solidarity", "burglary", "rodeo", "ecology", "fire", "weather"]
    out = []
    for i in range(n):
        lat, lon = site.city.random_point(rng)
        out.append(await post_alert(site, rng.choice(site.residents), lat, lon, cats[i % len(cats)]))
    return out
