"""The bench's building blocks at tiny scale (the full benches are too long
for the suite): frames, the floor server with the light clients, the
audience bench's agreement, the layout's audiences, the ingest bench's two
loops on SQLite. Loopback only."""

from __future__ import annotations

import json
import os
import socket
import tempfile
from pathlib import Path

import numpy as np
import pytest

from bench.clients import ClientPool
from bench.common import free_port, percentile
from bench.httpc import HttpConn
from bench.layout import Alert, make_layout
from bench.servers import HOST, start_floor
from bench.wsproto import OP_PING, OP_TEXT, accept_key, client_frame, parse_frames, server_frame
from geo import DEMO_CITY_PATH, haversine_m, load_city

REDIS_URL = os.environ.get("DISPATCH_TEST_REDIS", "redis://127.0.0.1:6379/0")


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


def test_accept_key_matches_rfc6455_example() -> None:
    # RFC 6455 section 1.3
    assert accept_key(b"dGhlIHNhbXBsZSBub25jZQ==") == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_frames_round_trip_and_split_reads() -> None:
    big = b"x" * 300  # 16-bit length form
    buf = bytearray(server_frame(b'{"id":7}') + server_frame(big) + client_frame(b"hi", OP_PING))
    whole = bytes(buf)
    assert parse_frames(buf) == [(OP_TEXT, b'{"id":7}'), (OP_TEXT, big), (OP_PING, b"hi")]
    assert not buf
    part = bytearray(whole[:5])
    assert parse_frames(part) == []  # incomplete: nothing popped
    part += whole[5:]
    assert len(parse_frames(part)) == 3


def test_percentile_is_nearest_rank() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert percentile([float(i) for i in range(1, 101)], 99) == 99.0


def test_layout_audiences_follow_the_contract_rule() -> None:
    city = load_city(DEMO_CITY_PATH)
    layout = make_layout(city, 300, "est", 500.0)
    assert all(city.sector_of(a, b) == "est" for a, b in zip(layout.lat, layout.lon))
    a = Alert("sector", float(layout.lat[0]), float(layout.lon[0]), "est")
    assert layout.audience(a, 300) == set(range(300))
    for r in layout.radius_alerts(np.random.default_rng(1), 3, 300, min_audience=1):
        want = {i for i in range(300) if haversine_m(r.lat, r.lon, float(layout.lat[i]), float(layout.lon[i])) <= 500.0}
        assert r.sector != "est" and layout.audience(r, 300) == want


async def test_floor_and_light_clients_deliver_every_frame() -> None:
    port = free_port()
    srv = start_floor(port, Path(tempfile.mkdtemp(prefix="bench-smoke-")), loop="asyncio")
    pool = ClientPool(2)
    try:
        await srv.wait_healthy(20)
        opened = await pool.connect(HOST, port, "/ws/resident", [{"Authorization": "Bearer x"}] * 50)
        assert opened["ok"] == 50, opened
        await pool.expect("all", range(50))
        http = await HttpConn.open(HOST, port)
        ids = []
        for i in range(3):
            status, doc = await http.json("POST", "/api/alerts", {"lat": 43.18, "lon": 3.0, "i": i})
            assert status == 201 and doc["recipients"] == 50
            ids.append(doc["id"])
        http.close()
        res = await pool.wait(ids, "all", timeout=10)
        for aid in ids:
            assert (res[aid]["got"], res[aid]["want"], res[aid]["extra"]) == (50, 50, 0)
            assert res[aid]["t_last"] > 0
        # an audience smaller than the connections: the others count as extra
        await pool.expect("some", set(range(10)))
        http = await HttpConn.open(HOST, port)
        _, doc = await http.json("POST", "/api/alerts", {"lat": 43.18, "lon": 3.0})
        http.close()
        res = await pool.wait([doc["id"]], "some", timeout=10)
        assert (res[doc["id"]]["got"], res[doc["id"]]["want"]) == (10, 10)
        assert (await pool.status())["lost"] == 0
    finally:
        await pool.close_all()
        pool.stop()
        srv.stop()


def test_audience_bench_agrees_at_2k_homes() -> None:
    from bench.audience import run_size

    redis = REDIS_URL if _redis_up() else None
    row = run_size(load_city(DEMO_CITY_PATH), 2000, queries=20, budget_s=0.3, check=10, redis_url=redis)
    assert row["agree"] is True
    assert row["ours_per_s"] > 0 and row["scan_per_s"] > 0
    if redis:
        assert row["geosearch_per_s"] > 0


def test_ingest_bench_reports_closed_and_open_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import bench.plots
    from bench import ingest

    monkeypatch.setattr(bench.plots, "RESULTS", tmp_path)  # the repo's plots stay as they are
    out = tmp_path / "ingest.json"
    code = ingest.main(
        [
            "--quick",
            "--stores",
            "sqlite",
            "--concurrency",
            "2",
            "--duration",
            "1",
            "--rate",
            "40",
            "--open-clients",
            "4",
            "--json",
            str(out),
        ]
    )
    doc = json.loads(out.read_text())
    assert code == 0
    for key in ("sqlite_2_accepted_per_s", "sqlite_2_p99_ms", "sqlite_open_40_accepted_per_s", "sqlite_open_40_p99_ms"):
        assert isinstance(doc[key], (int, float)) and doc[key] > 0, (key, doc.get(key))
    (row,) = doc["open_loop"]
    assert (row["concurrency"], row["rate"], row["offered_per_s"]) == (4, 40, 40.0)
    assert row["errors"] == {} and row["other_status"] == {}
    assert len(doc["targets"]) == 3


def test_login_bench_times_a_good_login_alone_and_under_attack(tmp_path: Path) -> None:
    from bench import login

    out = tmp_path / "login.json"
    argv = ["--quick", "--rounds", "1", "--per-round", "2", "--attackers", "8", "--json", str(out)]
    assert login.main(argv) == 0
    doc = json.loads(out.read_text())
    assert [(r["store"], r["limits"]) for r in doc["rows"]] == [("sqlite", "shipped"), ("sqlite", "hash only")]
    for row in doc["rows"]:
        assert row["unloaded_ms"] > 0 and row["loaded_ms"] > 0 and row["ratio"] > 0
        assert len(row["alone_s"]) == len(row["loaded_s"]) == 2
        assert row["bad_401"] > 0 and row["bad_other"] == 0  # the attack ran, and was answered
    assert isinstance(doc["met"], bool) and doc["target_ratio"] == 2.0


def test_notify_bench_sends_every_message_once_on_each_channel(tmp_path: Path) -> None:
    from bench import notify

    out = tmp_path / "notify.json"
    argv = ["--quick", "--residents", "60", "--naive-n", "10", "--latency-ms", "5", "--json", str(out)]
    assert notify.main(argv) == 0
    doc = json.loads(out.read_text())
    assert [r["channel"] for r in doc["rows"]] == ["email", "sms", "push"]
    for row in doc["rows"]:
        assert row["ours_requests"] == 60  # every resident once: the sinks count by key
        assert row["ours_per_s"] > 0 and row["naive_per_s"] > 0 and row["ratio"] > 0
    assert isinstance(doc["met"], bool) and doc["target_ratio"] == 3.0 and doc["latency_ms"] == 5


@pytest.mark.parametrize("module", ["bench.fanout", "bench.audience", "bench.ingest", "bench.login", "bench.notify"])
def test_bench_commands_parse_their_options(module: str) -> None:
    import importlib

    mod = importlib.import_module(module)
    with pytest.raises(SystemExit) as exc:
        mod.main(["--help"])
    assert exc.value.code == 0
