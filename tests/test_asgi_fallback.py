"""Under an ASGI server without our raw-frame extension (here Starlette's
TestClient), streams fall back to a bounded queue drained through the
standard `websocket.send`: same messages, same order."""

from __future__ import annotations

import asyncio

import orjson
from starlette.testclient import TestClient

from dispatch.http.app import create_app
from dispatch.settings import REPO_ROOT, load_settings, with_overrides
from geo import load_city
from tests.e2e import CENTRE
from tests.seed import seed


def test_streams_work_without_the_raw_extension(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    settings = with_overrides(load_settings(REPO_ROOT / "config.toml", env={}), database_url=url)
    city = load_city(settings.city_sectors)
    (resident,), (disp,) = asyncio.run(seed(url, city, [CENTRE], staff=["dispatcher"]))
    with TestClient(create_app(settings)) as client:
        with (
            client.websocket_connect("/ws/ops", headers={"Authorization": f"Bearer {disp.token}"}) as ops,
            client.websocket_connect("/ws/resident", headers={"Authorization": f"Bearer {resident.token}"}) as mine,
        ):
            ids = []
            for k in range(3):
                r = client.post(
                    "/api/alerts",
                    json={"category": "fire", "lat": CENTRE[0], "lon": CENTRE[1] + k * 0.001},
                    headers={"Authorization": f"Bearer {resident.token}"},
                )
                assert r.status_code == 201
                ids.append(r.json()["id"])
            got_ops = []
            while len(got_ops) < 3:
                msg = orjson.loads(ops.receive_text())
                if msg["type"] == "alert.created":
                    got_ops.append(msg)
            got_mine = [orjson.loads(mine.receive_text()) for _ in range(3)]
    assert [m["data"]["id"] for m in got_ops] == ids
    assert [m["data"]["id"] for m in got_mine] == ids and all(m["type"] == "alert.nearby" for m in got_mine)
    assert [m["seq"] for m in got_ops] == sorted(m["seq"] for m in got_ops)
