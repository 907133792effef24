"""The HTTP edge: the Starlette application, its routes and pages, the two
WebSocket endpoints, authentication of each request and socket, and the
contract's error shape. A route parses, checks the role, calls a use case
and shapes the answer; nothing else.

May import: dispatch.wiring (the Services it is given), dispatch.settings,
dispatch.telemetry, dispatch.live, dispatch.usecases, dispatch.ports,
dispatch.core, geo. Never an
adapter directly.
"""
