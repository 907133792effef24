"""`python -m bench.login`: a resident's good login while strangers hammer
the login route.

One server (ours, one worker). A good login (right password, real account,
from 127.0.0.1, which logged in before) is timed alone, then while 64
concurrent bad logins run (closed loop, keep-alive, never honouring
Retry-After, as an attacker would): half with wrong passwords for 16 real
accounts, half with e-mails that have no account, from 8 source addresses
(127.0.0.2-9, each bound explicitly). Rounds of both alternate, so the other
jobs on a shared machine weigh on both alike. Twice: with the limits as
shipped, and with no account or address ever locked (every bad login is
hashed: only the hashing gate protects the resident). Target: the loaded
median <= 2 x the unloaded median, both from this run. Before the hashing gate and the failed-login limits (docs/reference.md,
"Limits"), 64 bad logins made one good login take 12.7 s."""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import free_port, log, markdown_table, percentile, progress, write_json
from bench.httpc import HttpConn
from bench.seed import PgDatabase, drop_redis_prefix
from bench.servers import HOST, start_ours

PASSWORD = "correct horse battery staple"
TARGET_RATIO = 2.0
VICTIMS = 16
SOURCES = [f"127.0.0.{i}" for i in range(2, 10)]


async def seed_accounts(url: str, tag: str) -> tuple[str, list[str]]:
    """The good account and the victims, all with PASSWORD, straight into the store."""
    from dispatch.adapters import open_store
    from dispatch.core.model import NewUser
    from dispatch.usecases.sessions import hash_password

    store = open_store(url, 2)
    await store.connect()
    try:
        await store.migrate()
        shared = hash_password(PASSWORD)
        emails = [f"good-{tag}@bench.invalid", *(f"victim{i}-{tag}@bench.invalid" for i in range(VICTIMS))]
        await store.add_users([NewUser("resident", e, shared, "", 43.1837, 3.0042, None) for e in emails])
    finally:
        await store.close()
    return emails[0], emails[1:]


async def _open(port: int, source: str | None = None) -> HttpConn:
    local = (source, 0) if source else None
    reader, writer = await asyncio.open_connection(HOST, port, local_addr=local)
    return HttpConn(HOST, port, reader, writer)


async def good_login(port: int, email: str) -> float:
    """Seconds for one good login on a fresh connection from 127.0.0.1."""
    conn = await _open(port, "127.0.0.1")
    try:
        started = time.perf_counter()
        status, _ = await conn.json("POST", "/api/auth/login", {"email": email, "password": PASSWORD}, timeout=60)
        elapsed = time.perf_counter() - started
    finally:
        conn.close()
    if status != 200:
        raise RuntimeError(f"the good login answered {status}")
    return elapsed


async def bad_client(port: int, k: int, victims: list[str], answers: Counter[int], stop: asyncio.Event) -> None:
    source = SOURCES[k % len(SOURCES)]
    conn: HttpConn | None = None
    while not stop.is_set():
        if k % 2:
            body = {"email": victims[k % len(victims)], "password": secrets.token_urlsafe(9)}
        else:
            body = {"email": f"nobody-{secrets.token_hex(4)}@bench.invalid", "password": secrets.token_urlsafe(9)}
        try:
            conn = conn or await _open(port, source)
            status, _ = await conn.json("POST", "/api/auth/login", body, timeout=60)
            answers[status] += 1
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
            answers[0] += 1
            if conn is not None:
                conn.close()
            conn = None
    if conn is not None:
        conn.close()


async def _attack(port: int, victims: list[str], attackers: int, answers: Counter[int]) -> tuple[Any, Any]:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(bad_client(port, k, victims, answers, stop)) for k in range(attackers)]
    await asyncio.sleep(0.3)  # every attacker has sent its first request
    return stop, tasks


async def measure(port: int, good: str, victims: list[str], a: argparse.Namespace, bar: Any) -> dict[str, Any]:
    """Rounds of: `per_round` good logins alone, then as many during the
    attack; interleaved, so what the other jobs on the machine do weighs on
    both alike."""
    await good_login(port, good)  # warm: first connection, first hash; the address logs in
    alone: list[float] = []
    loaded: list[float] = []
    answers: Counter[int] = Counter()
    attacked = 0.0
    for _ in range(a.rounds):
        for _ in range(a.per_round):
            alone.append(await good_login(port, good))
            bar.update(1)
        started = time.monotonic()
        stop, tasks = await _attack(port, victims, a.attackers, answers)
        try:
            for _ in range(a.per_round):
                loaded.append(await good_login(port, good))
                bar.update(1)
                await asyncio.sleep(0.2)
        finally:
            stop.set()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            attacked += time.monotonic() - started
        await asyncio.sleep(1.2)  # the refusals in flight end (their pause is 1 s)
    unloaded_ms, loaded_ms = statistics.median(alone) * 1e3, statistics.median(loaded) * 1e3
    return {
        "samples": len(loaded),
        "attackers": a.attackers,
        "unloaded_ms": unloaded_ms,
        "loaded_ms": loaded_ms,
        "loaded_p90_ms": percentile(loaded, 90) * 1e3,
        "loaded_max_ms": max(loaded) * 1e3,
        "ratio": loaded_ms / unloaded_ms,
        "bad_per_s": sum(answers.values()) / attacked,
        "bad_401": answers[401],
        "bad_429": answers[429],
        "bad_other": sum(n for s, n in answers.items() if s not in (401, 429)),
        "alone_s": alone,
        "loaded_s": loaded,
    }


# "shipped": the limits as config.toml ships them; "hash only": no account or
# address ever locks, so every bad login is verified, and only the hashing
# gate stands between the strangers and the resident (many addresses, each
# below its threshold, come to that)
SCENARIOS = {
    "shipped": {},
    "hash only": {
        "DISPATCH_LIMITS_LOGIN_FAILURES_PER_ACCOUNT": "1000000000",
        "DISPATCH_LIMITS_LOGIN_FAILURES_PER_ADDRESS": "1000000000",
    },
}


async def _run_store(store: str, scenario: str, a: argparse.Namespace, tmp: Path, bar: Any) -> dict[str, Any]:
    tag, prefix = uuid.uuid4().hex[:8], f"bench-{uuid.uuid4().hex[:8]}"
    pg = PgDatabase(a.pg) if store == "postgresql" else None
    url = await pg.create() if pg else f"sqlite:///{tmp / f'login-{tag}.sqlite3'}"
    bus = a.redis if pg else "memory://"
    try:
        good, victims = await seed_accounts(url, tag)
        env = {"DISPATCH_BUS_PREFIX": prefix, **SCENARIOS[scenario]}
        srv = start_ours(f"ours-{store}", free_port(), tmp, url, bus, extra_env=env)
        try:
            await srv.wait_healthy()
            return {"store": store, "limits": scenario, **await measure(srv.port, good, victims, a, bar)}
        finally:
            srv.stop()
    finally:
        if pg is not None:
            await pg.drop()
            await drop_redis_prefix(a.redis, prefix)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.login", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="SQLite only, 3 rounds: under a minute")
    ap.add_argument("--json", metavar="PATH")
    ap.add_argument("--stores", help="sqlite,postgresql (default both; quick: sqlite)")
    ap.add_argument("--rounds", type=int, help="rounds of alone, then under attack (default 6, quick 3)")
    ap.add_argument("--per-round", type=int, default=3, help="good logins timed alone and under attack per round")
    ap.add_argument("--attackers", type=int, default=64, help="concurrent bad logins (default 64)")
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    a = ap.parse_args(argv)
    a.rounds = a.rounds or (3 if a.quick else 6)
    stores = [s.strip() for s in (a.stores or ("sqlite" if a.quick else "sqlite,postgresql")).split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="bench-login-"))
    bar = progress(len(stores) * len(SCENARIOS) * 2 * a.rounds * a.per_round, "login")
    rows = []
    try:
        for store in stores:
            for scenario in SCENARIOS:
                rows.append(asyncio.run(_run_store(store, scenario, a, tmp, bar)))
    finally:
        bar.close()
    columns = [
        ("store", "store"),
        ("limits", "limits"),
        ("unloaded_ms", "good login alone, median ms"),
        ("loaded_ms", f"during {a.attackers} bad, median ms"),
        ("loaded_p90_ms", "p90 ms"),
        ("loaded_max_ms", "max ms"),
        ("ratio", "ratio"),
        ("bad_per_s", "bad logins/s"),
        ("bad_401", "401"),
        ("bad_429", "429"),
        ("bad_other", "other"),
    ]
    print(markdown_table(rows, columns))
    met = all(r["ratio"] <= TARGET_RATIO for r in rows)
    print(f"\ntarget: a good login within {TARGET_RATIO:g} x its unloaded time: {'met' if met else 'NOT met'}")
    doc: dict[str, Any] = {"rows": rows, "target_ratio": TARGET_RATIO, "met": met}
    for r in rows:
        doc[f"{r['store']}_{r['limits'].replace(' ', '_')}_ratio"] = r["ratio"]
    write_json(a.json, doc)
    log(f"bench.login: {tmp}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
