"""Benchmarks of the spatial fan-out, each figure beside its baselines.

`python -m bench.fanout`   POST -> last recipient, against a raw-asyncio floor and a naive Starlette server
`python -m bench.audience` the geo side alone: HomeIndex against a NumPy scan and Redis GEOSEARCH
`python -m bench.ingest`   accepted alerts per second and POST latency, SQLite and PostgreSQL

Machines are noisy: the ratios measured within one run are the figures that
count, so every bench runs its baselines in the same process tree and run."""
