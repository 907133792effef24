"""A wall page (/ops/wall, logged in as the dispatcher, a wall session) in
Debian's Chromium, and its JS heap measured after a forced GC through the
DevTools protocol (HeapProfiler.collectGarbage, then Runtime.getHeapUsage)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.soak_run import DISPATCHER, PASSWORD
from tests.browser import CHROMIUM, CHROMIUM_ARGS, WALL_SIZE

# the suite's Chromium and flags; a wall stays in front: no background
# throttling of its timers
ARGS = [*CHROMIUM_ARGS, "--disable-background-timer-throttling", "--disable-renderer-backgrounding"]


@dataclass
class Wall:
    context: Any
    page: Any
    cdp: Any
    errors: list[str]

    async def heap_bytes(self) -> int:
        """Used JS heap after a full collection (what is still reachable).
        collectGarbage twice: the first may only finish what V8 had
        started, and finalizers can free more on the second."""
        await self.cdp.send("HeapProfiler.collectGarbage")
        await self.cdp.send("HeapProfiler.collectGarbage")
        usage = await self.cdp.send("Runtime.getHeapUsage")
        return int(usage["usedSize"])

    async def counts(self) -> dict[str, int]:
        """DOM size and the wall's rows, to tell a heap rise from a list that grows."""
        return dict(
            await self.page.evaluate(
                "({nodes: document.getElementsByTagName('*').length,"
                " rows: document.querySelectorAll('#feed > *, #pinned > *').length})"
            )
        )

    async def close(self) -> None:
        await self.context.close()


async def _offline(route: Any) -> None:
    # nothing leaves loopback: the map's tile probe fails at once, as offline
    await route.abort()


async def open_wall(browser: Any, base_url: str) -> Wall:
    context = await browser.new_context(viewport=WALL_SIZE, locale="fr-FR")
    await context.route(lambda url: not url.startswith(base_url), _offline)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(base_url + "/ops/wall")
    await page.wait_for_selector("#login:not([hidden])")
    await page.fill("#login-email", DISPATCHER)
    await page.fill("#login-password", PASSWORD)
    await page.click("#login button[type=submit]")
    await page.wait_for_selector('#light[data-state="on"]', timeout=30_000)
    cdp = await context.new_cdp_session(page)
    await cdp.send("HeapProfiler.enable")
    return Wall(context, page, cdp, errors)


async def launch() -> tuple[Any, Any]:
    from playwright.async_api import async_playwright

    pw = await async_playwright().start()
    browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    return pw, browser
