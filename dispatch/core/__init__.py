"""The pure core: domain values (model), input validation, the status
lifecycle, scoring, grouping alerts into incidents, incident decisions, the
triage policy, who receives an event (audience, routing), what each audience
sees (views, events) and the wire encoding (codec). Data in, data out: no
event loop, no I/O, so its tests need no server. Strict types (mypy --strict).

May import: geo, and pure libraries (h3, numpy, orjson). Never asyncio, a web
framework, a database or a bus client, nor any other layer of dispatch.
"""
