"""Sampling profiles of the server under test, for the targets a run misses.

py-spy cannot attach to a running process in this sandbox (it fails to read
the target's memory), but it can launch it: `--profile` runs ours under
`py-spy record --subprocesses` for the server's whole life, and this module
summarises the raw (collapsed-stack) output it writes."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path


def available() -> bool:
    return shutil.which("py-spy") is not None


def wrap(argv: list[str], out: Path, rate: int = 250) -> list[str]:
    return [
        "py-spy",
        "record",
        "--subprocesses",
        "--rate",
        str(rate),
        "--format",
        "raw",
        "--output",
        str(out),
        "--",
        *argv,
    ]


def _frame_name(frame: str) -> str:
    # "deliver (dispatch/hub.py:97)" -> "deliver (dispatch/hub.py)"
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit(':', 1)[0]})" if where else name


def summarize(path: Path, top: int = 15, within: str | None = None) -> str:
    """Self time per function and inclusive time per function, as shares of
    the samples (optionally only the stacks that pass through `within`)."""
    self_t: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = [_frame_name(f) for f in stack.split(";")]
        if within and not any(within in f for f in frames):
            continue
        n = int(count)
        total += n
        self_t[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
    if not total:
        return f"{path.name}: no samples"
    lines = [f"{path.name}: {total} samples" + (f" in stacks through {within!r}" if within else "")]
    lines.append("  self time:")
    lines += [f"    {n / total:6.1%}  {f}" for f, n in self_t.most_common(top)]
    lines.append("  inclusive, project code only:")
    ours = [(f, n) for f, n in incl.most_common() if "dispatch/" in f or "geo/" in f]
    lines += [f"    {n / total:6.1%}  {f}" for f, n in ours[:top]]
    return "\n".join(lines)
