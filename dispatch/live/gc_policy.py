"""When the garbage collector may stop the event loop.

A full collection walks every tracked object. A worker holding thousands of
WebSockets tracks hundreds of thousands (uvicorn's and websockets' objects
per connection), and CPython starts full collections on its own whenever the
old generation has grown by a quarter: measured with bench.fanout at 5,000
subscribers, they stalled the loop for 160-440 ms, and an alert committed
just then reached the wall screens that much later (p99 0.45-0.64 s).

So in a server process:
* what start-up loaded (modules, the city and its index) is frozen out of
  the collector's sight (gc.freeze): it lives as long as the process;
* young collections stay automatic (they are short, and collect almost all
  the cyclic garbage of requests);
* full collections are run by this module instead: when the hub has written
  nothing for QUIET_S, at most every EVERY_S, and in any case every
  AT_LEAST_EVERY_S, so memory held by cycles is still reclaimed on a server
  that is never quiet.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable

log = logging.getLogger("dispatch.gc")

EVERY_S = 60.0
AT_LEAST_EVERY_S = 600.0
QUIET_S = 0.5
NO_AUTOMATIC_FULL = 1_000_000_000  # gen-1 collections before an automatic full one


def take_over() -> None:
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, NO_AUTOMATIC_FULL)


async def run(last_write: Callable[[], float], check_every: float = 0.25) -> None:
    """Forever: full collections at quiet moments (last_write: the
    time.monotonic() of the hub's last write)."""
    last = time.monotonic()
    while True:
        await asyncio.sleep(check_every)
        now = time.monotonic()
        due = now - last >= EVERY_S and now - last_write() >= QUIET_S
        if due or now - last >= AT_LEAST_EVERY_S:
            t0 = time.perf_counter()
            found = gc.collect()
            last = time.monotonic()
            log.debug("full collection: %d objects in %.0f ms", found, (time.perf_counter() - t0) * 1e3)
