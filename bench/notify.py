"""`python -m bench.notify`: one broadcast to 10,000 opted-in residents
(1,000 with --quick) on each out-of-band channel, through the real delivery
workers, against sinks that count what arrives (bench.sinks: aiosmtpd for
e-mail, an HTTP server for the SMS gateway and the push service).

Per channel, a fresh server (ours, one worker, the shipped [notify] batch
and concurrency) and database hold N residents who chose that channel; the
time runs from the POST /api/broadcasts to the N-th distinct message at the
sink (the outbox rows' transaction included). Then, in the same run, the
naive sender: one message after the other, a new connection for each
(smtplib; httpx.post; pywebpush.webpush, which encrypts and signs each
message as ours does), on `--naive-n` messages, for its rate. Target: ours
>= 3 x naive on every channel."""

from __future__ import annotations

import argparse
import asyncio
import base64
import http.client
import json
import random
import secrets
import smtplib
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx

from bench.common import REPO, free_port, log, markdown_table, progress, write_json
from bench.seed import PgDatabase, drop_redis_prefix, seed_notify
from bench.servers import HOST, start_ours
from geo import DEMO_CITY_PATH, City, load_city

CHANNELS = ("email", "sms", "push")
TARGET_RATIO = 3.0
SECTOR = "centre"
TOKEN = "bench-gateway-token"


def start_sinks(tmp: Path, latency_ms: float) -> tuple[subprocess.Popen[bytes], int, int]:
    http_port, smtp_port = free_port(), free_port()
    argv = [sys.executable, "-m", "bench.sinks", "--http-port", str(http_port), "--smtp-port", str(smtp_port)]
    argv += ["--latency-ms", str(latency_ms)]
    out = open(tmp / "sinks.log", "ab")
    proc = subprocess.Popen(argv, cwd=REPO, stdout=out, stderr=out, start_new_session=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://{HOST}:{http_port}/stats", timeout=1).raise_for_status()
            return proc, http_port, smtp_port
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("bench.sinks did not start")


_STATS = httpx.Client(timeout=10)  # one kept connection: polling costs the bench's process little


def sink_stats(http_port: int) -> dict[str, Any]:
    return dict(_STATS.get(f"http://{HOST}:{http_port}/stats").json())


def sink_reset(http_port: int) -> None:
    _STATS.post(f"http://{HOST}:{http_port}/reset")


def homes(city: City, n: int, rng: random.Random) -> list[tuple[float, float, str | None]]:
    south, west, north, east = city.sector(SECTOR).bbox
    out: list[tuple[float, float, str | None]] = []
    while len(out) < n:
        lat, lon = rng.uniform(south, north), rng.uniform(west, east)
        if city.sector_of(lat, lon) == SECTOR:
            out.append((lat, lon, SECTOR))
    return out


def push_keys() -> tuple[str, str]:
    """One subscriber key pair for every bench subscription (nothing decrypts)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    raw = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()  # noqa: E731
    return b64(raw), b64(secrets.token_bytes(16))


async def dispatcher_token(url: str) -> str:
    from dispatch.adapters import open_store
    from dispatch.core.model import NewUser, utcnow
    from dispatch.usecases.sessions import hash_password, token_hash

    store = open_store(url, 2)
    await store.connect()
    try:
        await store.migrate()
        (uid,) = await store.add_users(
            [NewUser("dispatcher", f"disp-{uuid.uuid4().hex[:8]}@bench.invalid", hash_password("x"))]
        )
        token = secrets.token_urlsafe(24)
        await store.add_session(token_hash(token), uid, utcnow() + timedelta(hours=2))
        return token
    finally:
        await store.close()


def notify_env(http_port: int, smtp_port: int, tmp: Path, prefix: str) -> dict[str, str]:
    return {
        "DISPATCH_BUS_PREFIX": prefix,
        "DISPATCH_NOTIFY_SMTP_HOST": HOST,
        "DISPATCH_NOTIFY_SMTP_PORT": str(smtp_port),
        "DISPATCH_NOTIFY_SMS_URL": f"http://{HOST}:{http_port}/sms",
        "DISPATCH_NOTIFY_SMS_TOKEN": TOKEN,
        "DISPATCH_NOTIFY_SMS_NUMBER": "+33600000000",
        "DISPATCH_NOTIFY_VAPID_KEY": str(tmp / f"vapid-{prefix}.pem"),
    }


async def ours(
    store: str, channel: str, n: int, a: argparse.Namespace, tmp: Path, sinks: tuple[int, int]
) -> dict[str, Any]:
    """Seconds from the broadcast's POST to its n-th distinct message at the sink."""
    http_port = sinks[0]
    tag, prefix = uuid.uuid4().hex[:8], f"bench-{uuid.uuid4().hex[:8]}"
    pg = PgDatabase(a.pg) if store == "postgresql" else None
    url = await pg.create() if pg else f"sqlite:///{tmp / f'notify-{tag}.sqlite3'}"
    try:
        subs: list[tuple[str, str, str]] = []
        if channel == "push":
            p256dh, auth = push_keys()
            subs = [(f"http://{HOST}:{http_port}/push/{tag}-{i}", p256dh, auth) for i in range(n)]
        await seed_notify(url, homes(a.city, n, random.Random(n)), tag, ["app", channel], subs)
        token = await dispatcher_token(url)
        bus = a.redis if pg else "memory://"
        srv = start_ours(
            f"ours-{store}-{channel}", free_port(), tmp, url, bus, extra_env=notify_env(*sinks, tmp, prefix)
        )
        try:
            await srv.wait_healthy()
            sink_reset(http_port)
            async with httpx.AsyncClient(base_url=f"http://{HOST}:{srv.port}", timeout=120) as client:
                body = {
                    "sectors": [SECTOR],
                    "level": "urgent",
                    "text": "Bench : exercice d'alerte, ne pas tenir compte.",
                }
                started = time.perf_counter()
                r = await client.post("/api/broadcasts", json=body, headers={"Authorization": f"Bearer {token}"})
                if r.status_code != 201:
                    raise RuntimeError(f"the broadcast answered {r.status_code}: {r.text}")
                deadline = time.monotonic() + max(120.0, n / 20)
                while (got := sink_stats(http_port)[channel])["messages"] < n:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{channel}: {got['messages']} of {n} after the deadline:\n{srv.log_tail()}")
                    await asyncio.sleep(0.05)
                elapsed = time.perf_counter() - started
        finally:
            srv.stop()
        return {"ours_s": elapsed, "ours_per_s": n / elapsed, "ours_requests": got["requests"]}
    finally:
        if pg is not None:
            await pg.drop()
            await drop_redis_prefix(a.redis, prefix)


def naive(channel: str, n: int, tmp: Path, sinks: tuple[int, int]) -> float:
    """Messages/s of one-at-a-time sending, a new connection each time."""
    http_port, smtp_port = sinks
    sink_reset(http_port)
    started = time.perf_counter()
    if channel == "email":
        for i in range(n):
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = (
                "bench@example.org",
                f"r{i}@example.org",
                "[Police municipale] URGENT",
            )
            msg["Message-ID"] = f"<naive-{i}@example.org>"
            msg.set_content("Bench : exercice d'alerte, ne pas tenir compte.")
            with smtplib.SMTP(HOST, smtp_port) as smtp:
                smtp.send_message(msg)
    elif channel == "sms":
        # the standard library's client: the least a sender can spend per request
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        for i in range(n):
            body = {"id": f"naive-{i}", "to": f"+3367{i:07d}", "text": "Bench : exercice. STOP au +33600000000"}
            conn = http.client.HTTPConnection(HOST, http_port, timeout=30)
            conn.request("POST", "/sms", json.dumps(body), headers)
            if conn.getresponse().status != 202:
                raise RuntimeError("naive sms: refused")
            conn.close()
    else:
        from pywebpush import webpush

        from dispatch.adapters.web_push import load_or_create_key

        vapid = load_or_create_key(tmp / "naive-vapid.pem")
        p256dh, auth = push_keys()
        data = json.dumps({"level": "urgent", "text": "Bench : exercice.", "id": 1})
        for i in range(n):
            sub = {"endpoint": f"http://{HOST}:{http_port}/push/naive-{i}", "keys": {"p256dh": p256dh, "auth": auth}}
            webpush(sub, data, vapid_private_key=vapid, vapid_claims={"sub": "mailto:bench@example.org"}, ttl=86400)
    elapsed = time.perf_counter() - started
    got = sink_stats(http_port)[channel]["messages"]
    if got != n:
        raise RuntimeError(f"naive {channel}: {got} of {n} arrived")
    return n / elapsed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.notify", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="1,000 residents, SQLite only: about a minute")
    ap.add_argument("--json", metavar="PATH")
    ap.add_argument("--residents", type=int, help="opted-in residents per channel (default 10000, quick 1000)")
    ap.add_argument("--naive-n", type=int, help="messages the naive sender sends per channel (default 1000, quick 300)")
    ap.add_argument("--channels", default=",".join(CHANNELS))
    ap.add_argument("--latency-ms", type=float, default=20.0, help="the sinks' answer time (default 20)")
    ap.add_argument("--stores", help="sqlite,postgresql (default both; quick: sqlite)")
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    a = ap.parse_args(argv)
    n = a.residents or (1000 if a.quick else 10000)
    naive_n = a.naive_n or (300 if a.quick else 1000)
    channels = [c.strip() for c in a.channels.split(",")]
    stores = [s.strip() for s in (a.stores or ("sqlite" if a.quick else "sqlite,postgresql")).split(",")]
    a.city = load_city(DEMO_CITY_PATH)
    tmp = Path(tempfile.mkdtemp(prefix="bench-notify-"))
    proc, http_port, smtp_port = start_sinks(tmp, a.latency_ms)
    sinks = (http_port, smtp_port)
    bar = progress(len(stores) * len(channels), "notify")
    rows = []
    try:
        for store in stores:
            for channel in channels:
                row: dict[str, Any] = {"store": store, "channel": channel, "residents": n}
                row.update(asyncio.run(ours(store, channel, n, a, tmp, sinks)))
                row["naive_n"] = naive_n
                row["naive_per_s"] = naive(channel, naive_n, tmp, sinks)
                row["ratio"] = row["ours_per_s"] / row["naive_per_s"]
                rows.append(row)
                bar.update(1)
    finally:
        bar.close()
        proc.kill()
        proc.wait()
    columns = [
        ("store", "store"),
        ("channel", "channel"),
        ("residents", "residents"),
        ("ours_s", "ours, s"),
        ("ours_per_s", "ours, msg/s"),
        ("ours_requests", "requests at the sink"),
        ("naive_per_s", "naive, msg/s"),
        ("ratio", "ratio"),
    ]
    print(markdown_table(rows, columns))
    met = all(r["ratio"] >= TARGET_RATIO for r in rows)
    print(f"\nthe sinks answered each message after {a.latency_ms:g} ms")
    print(f"target: ours >= {TARGET_RATIO:g} x the naive sender on every channel: {'met' if met else 'NOT met'}")
    doc: dict[str, Any] = {"rows": rows, "target_ratio": TARGET_RATIO, "met": met, "latency_ms": a.latency_ms}
    for r in rows:
        doc[f"{r['store']}_{r['channel']}_per_s"] = r["ours_per_s"]
        doc[f"{r['store']}_{r['channel']}_ratio"] = r["ratio"]
    write_json(a.json, doc)
    log(f"bench.notify: {tmp}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
