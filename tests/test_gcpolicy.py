"""dispatch/live/gc_policy.py: a server process runs full garbage collections
itself, at quiet moments (and at least every AT_LEAST_EVERY_S), never on
CPython's own schedule. Run in a child interpreter: the policy changes
process-wide state."""

from __future__ import annotations

import subprocess
import sys
import textwrap

CHILD = textwrap.dedent("""
    import asyncio, gc, json, sys, time
    from dispatch.live import gc_policy as gcpolicy

    gcpolicy.EVERY_S, gcpolicy.QUIET_S, gcpolicy.AT_LEAST_EVERY_S = 0.2, 0.1, 0.7
    gcpolicy.take_over()
    out = {"threshold2": gc.get_threshold()[2], "frozen": gc.get_freeze_count()}

    full = []
    gc.callbacks.append(lambda phase, info: full.append(time.monotonic())
                        if phase == "stop" and info["generation"] == 2 else None)

    # garbage in cycles, enough for CPython's own schedule to start full collections
    def churn(n):
        for _ in range(n):
            a = []; a.append(a)
        keep.extend([[i] for i in range(n // 10)])
    keep = []

    async def phase(last_write, seconds):
        full.clear()
        task = asyncio.get_running_loop().create_task(gcpolicy.run(last_write, check_every=0.02))
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            churn(20000)
            await asyncio.sleep(0.005)
        task.cancel()
        return len(full)

    async def main():
        out["quiet"] = await phase(lambda: 0.0, 1.0)                 # never written: always quiet
        out["busy"] = await phase(lambda: time.monotonic(), 1.0)     # writing all the time
        out["none"] = await phase(lambda: time.monotonic(), 0.5)     # busy, and under AT_LEAST_EVERY_S
    asyncio.run(main())
    print(json.dumps(out))
""")


def test_full_collections_run_when_quiet_and_at_least_every_so_often() -> None:
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    out = __import__("json").loads(done.stdout)
    assert out["threshold2"] == 1_000_000_000 and out["frozen"] > 10_000
    assert 3 <= out["quiet"] <= 6  # every EVERY_S (0.2 s) over 1 s
    assert out["busy"] == 1  # only the forced one (AT_LEAST_EVERY_S = 0.7 s)
    assert out["none"] == 0  # despite lots of cyclic garbage: CPython starts none on its own
