"""Telemetry: the Prometheus metrics of one server (every worker's, through
prometheus_client's multiprocess mode), the JSON log lines and the request
id they carry.

A leaf beside dispatch.settings: every layer that is not pure (live,
adapters, use cases, the wiring, the edges) may call its one-line hooks;
dispatch.core, dispatch.ports and geo never do.

May import: no other dispatch package (prometheus_client, orjson, the
standard library).
"""
