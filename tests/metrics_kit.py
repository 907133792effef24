"""Reading GET /metrics in tests: the exposition parsed into samples, and sums over labels."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

Samples = list[tuple[str, dict[str, str], float]]


async def scrape(http: httpx.AsyncClient, url: str, **headers: str) -> Samples:
    r = await http.get(url + "/metrics", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return [(s.name, dict(s.labels), s.value) for f in text_string_to_metric_families(r.text) for s in f.samples]


def total(samples: Samples, name: str, **labels: Any) -> float:
    """The sum of `name` over every sample whose labels include `labels`."""
    want = {k: str(v) for k, v in labels.items()}
    return sum(v for n, lab, v in samples if n == name and all(lab.get(k) == x for k, x in want.items()))
