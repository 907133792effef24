"""The wall screen logs in for a wall session (read-only, no idle timeout),
and the desk opened in the same browser asks for a login of its own rather
than act with it. In a real Chromium."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser import Site, browser, open_tab, site, wait_live
from tests.e2e import PASSWORD
from tests.support import dispatch_cli

pytestmark = pytest.mark.browser


async def test_the_wall_logs_in_read_only_and_the_desk_asks_again(browser: Any, site: Site) -> None:
    dispatch_cli(
        "user", "add", "--role", "supervisor", "--email", "mur@example.org", "--password", PASSWORD, env=site.env
    )
    tab = await open_tab(browser, site, "/ops/wall", None)
    page = tab.page
    await page.wait_for_selector("#login:not([hidden])")
    await page.fill("#login-email", "mur@example.org")
    await page.fill("#login-password", PASSWORD)
    await page.click("#login button[type=submit]")
    await wait_live(page)
    me = await page.evaluate("fetch('/session').then((r) => r.json())")
    assert me["wall"] is True and me["role"] == "supervisor"
    status = await page.evaluate(
        "fetch('/api/units', {method: 'POST', headers: {'Content-Type': 'application/json'},"
        " body: JSON.stringify({name: 'Mur'})}).then((r) => r.status)"
    )
    assert status == 403  # read-only, though the account may create units
    desk = await tab.context.new_page()
    await desk.goto(site.url + "/ops")
    await desk.wait_for_selector("#login:not([hidden])")
    assert await desk.is_hidden("#app")
    await tab.context.close()
    assert tab.console_errors(ignore=("403",)) == []
