"""Issue 21: the wall page after a graceful restart. SIGTERM closes its
stream with 1012; web/static/shared/stream.js must take that as "reconnect"
(backoff with full jitter, then ?since=), not as a terminal close like 4003,
and catch up on what was posted while it was away."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import PLAGE, Site, browser, make_site, open_tab, post_alert, require_chromium, wait_live

pytestmark = pytest.mark.browser

# Records each WebSocket's close code where the test can read it; the page's
# own code is untouched (stream.js still builds its sockets with `new WebSocket`).
RECORD_CLOSES = """(() => {
  const Native = window.WebSocket;
  window.__closes = [];
  window.WebSocket = class extends Native {
    constructor(...args) { super(...args); this.addEventListener("close", (e) => window.__closes.push(e.code)); }
  };
})();"""

OUTAGE = (r"WebSocket connection to .* failed", r"Failed to load resource: net::ERR_CONNECTION_REFUSED")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    require_chromium()
    s = make_site(tmp_path)
    try:
        yield s
    finally:
        s.server.stop()


async def test_the_wall_reconnects_after_a_sigterm_and_catches_up(browser: Any, site: Site) -> None:
    tab = await open_tab(browser, site, "/ops/wall", site.supervisor)
    await tab.context.add_init_script(RECORD_CLOSES)
    page = tab.page
    await page.reload()
    await wait_live(page)
    site.server.stop(signal.SIGTERM)  # a graceful restart: the worker says 1012
    await page.wait_for_selector('#light[data-state="off"]', timeout=5000)
    assert await page.evaluate("window.__closes[0]") == 1012
    site.restart()
    sent = [await post_alert(site, site.residents[2], PLAGE[0] + i * 0.001, PLAGE[1], "vandalism") for i in range(3)]
    await wait_live(page, timeout=15_000)
    await page.wait_for_function(
        "id => Number(document.getElementById('map').dataset.lastAlert) >= id", arg=sent[-1]["id"], timeout=5000
    )
    for a in sent:
        await page.locator(f'.feed [data-incident="{a["incident"]}"]').wait_for(timeout=5000)
    assert not tab.console_errors(ignore=OUTAGE), tab.errors
    await tab.close()


# Drives the page's own LiveStream (web/static/shared/stream.js) against a
# socket that fails five times, then opens and drops, then fails: Math.random
# answers in turn from RANDOMS, and each reconnect timer stream.js sets is
# recorded (its callback then runs at once, so the test takes no 30 s).
BACKOFF_RUN = """async (randoms) => {
  const { LiveStream } = await import("/static/shared/stream.js");
  const realTimeout = window.setTimeout.bind(window), realRandom = Math.random;
  const NativeSocket = window.WebSocket, log = { waits: [], urls: [] };
  let k = 0;
  Math.random = () => randoms[k++];
  window.setTimeout = (fn, ms, ...args) => {
    if (!String(new Error().stack).includes("/shared/stream.js")) return realTimeout(fn, ms, ...args);
    log.waits.push(ms);
    return realTimeout(fn, 0);
  };
  window.WebSocket = class {
    constructor(url) {
      log.urls.push(url);
      const n = log.urls.length;
      realTimeout(() => {
        if (n === 6) this.onopen();
        this.onclose({ code: 1012 });
      }, 0);
    }
    close() {}
  };
  try {
    new LiveStream("/ws/ops", { onMessage() {}, since: 42 });
    for (let i = 0; i < 100 && log.urls.length < 8; i++) await new Promise((r) => realTimeout(r, 20));
  } finally {
    window.WebSocket = NativeSocket;
    window.setTimeout = realTimeout;
    Math.random = realRandom;
  }
  return log;
}"""
RANDOMS = [0.999, 0.5, 0.25, 0.999, 0.1, 0.75, 0.3, 0.3]


async def test_reconnects_back_off_exponentially_with_full_jitter_and_resume_with_since(
    browser: Any, site: Site
) -> None:
    # a logged-in tab on a page with no script of its own: only the stream runs
    tab = await open_tab(browser, site, "/healthz", site.supervisor)
    log = await tab.page.evaluate(BACKOFF_RUN, RANDOMS)
    await tab.close()
    # each wait uniform in [0, cap] (full jitter), the cap doubling from 1 s
    # to at most 10 s over five failures; an open resets it to 1 s
    caps = [1000, 2000, 4000, 8000, 10000, 1000, 2000]
    assert log["waits"][:7] == pytest.approx([r * c for r, c in zip(RANDOMS, caps, strict=False)])
    assert all(u.endswith("/ws/ops?since=42") for u in log["urls"]), log["urls"]
