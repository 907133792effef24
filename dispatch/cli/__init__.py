"""The `dispatch` command line: serve (uvicorn with our WebSocket protocol),
migrate, user add|import, unit add, simulate.

May import: anything in dispatch; nothing imports it but dispatch.__main__.
"""
