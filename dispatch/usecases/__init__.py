"""Use cases: what happens when a resident reports, an operator acts, a
broadcast is sent, time passes. Each is a small class over the ports: it
loads what a pure decision (dispatch.core) needs, has the store commit the
result with its events, then hands the events to the live path through the
Publisher port. No HTTP, no socket, no SQL here.

May import: dispatch.core, dispatch.ports, geo, dispatch.telemetry. Never dispatch.adapters,
dispatch.live, dispatch.http, dispatch.wiring, dispatch.cli or dispatch.settings.
"""
