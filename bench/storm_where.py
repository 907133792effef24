"""Where a storm's handshakes spend the server's time, from a py-spy profile.

py-spy records the restarted server's whole life (bench/profile.py): its
start-up (imports, lifespan) is counted apart, and every other sample is put
in the first phase of the handshake its stack passes through, in this order.
Shares are of the samples outside start-up."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

STARTUP = (
    "_find_and_load",
    "_get_spec",
    "load_city (",
    "lifespan (",
    "create_app (",
    "<module> (dispatch/__main__.py:3);<module>",
)

# (phase, any of these in the stack), first match wins
PHASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("session lookup (Sessions.user_for)", ("_authorise (",)),
    ("replay (store reads, encoding, writes)", ("_replay (",)),
    ("channel join, hub attach, go live", ("Sequencer.join", "attach_resident", "go_live", "home_channel")),
    ("ASGI accept (101 sent)", ("WebSocket.accept",)),
    ("socket held: receive loop, detach", ("WebSocket.receive", "Hub.detach", ".detach (")),
    ("rest of the endpoint", ("streams.py",)),
    ("SQLite thread (aiosqlite)", ("_connection_worker_thread",)),
    ("logging", ("logging/",)),
    ("gc", ("gc_policy", "gc.collect")),
    ("Starlette routing and middleware", ("starlette/", "dispatch/http/")),
    ("WebSocket handshake, framing (uvicorn, websockets)", ("websockets_sansio_impl", "websockets/", "frames.py")),
    ("HTTP parsing, upgrade (uvicorn httptools)", ("httptools_impl", "uvicorn/protocols")),
    ("event loop in C: accept, reads, writes (uvloop)", ("Runner.run (asyncio/runners.py:118) ",)),
)


def phases(path: Path) -> tuple[int, int, Counter[str]]:
    """(start-up samples, other samples, samples per phase)."""
    startup = total = 0
    out: Counter[str] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        if any(s in stack for s in STARTUP) and "_serve (" not in stack:
            startup += n
            continue
        total += n
        probe = stack + " "  # a leaf frame matches "... ) " too
        phase = next((name for name, keys in PHASES if any(k in probe for k in keys)), "other")
        out[phase] += n
    return startup, total, out


def table(path: Path) -> str:
    startup, total, out = phases(path)
    if not total:
        return f"{path.name}: no samples outside start-up"
    rows = [f"| {name} | {n / total:.1%} |" for name, n in out.most_common()]
    head = f"{path.name}: {total} samples in the storm and around it, {startup} more in start-up (not shown)\n"
    return head + "\n| where | share |\n|---|---:|\n" + "\n".join(rows)
