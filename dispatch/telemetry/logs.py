"""Log lines: one JSON object per event, with the request id.

Fields: ts (UTC, ISO 8601, milliseconds), level, logger, msg, request_id
(inside an HTTP request or a socket), then the event's own fields, given
as `extra={...}` at the call. A traceback keeps its frames and the
exception's class, never the exception's message: a driver's or a mail
server's message may quote the data it choked on (an address, a phone).

What a call may log is the rule of docs/operations.md: counts, ids, codes,
route templates, never a name, e-mail, phone, address, exact position or
free text. tests/test_logs_e2e.py reads every line of a full run."""

from __future__ import annotations

import contextvars
import logging
import random
import re
import traceback
from datetime import UTC, datetime
from typing import Any

import orjson

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
HEADER = "x-request-id"
# what we accept from a client or a proxy (nginx's $request_id is 32 hex
# digits; a UUID has dashes): anything else is replaced, so a log line never
# carries text a client chose beyond these characters
INCOMING = re.compile(r"[A-Za-z0-9_-]{8,64}")

# the attributes every LogRecord has: everything else on a record is the
# event's own fields (logging's `extra`)
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's msg again, with terminal colours
}


def request_id(incoming: str | None) -> str:
    """The id of a new request or socket: the caller's if it is well formed."""
    if incoming is not None and INCOMING.fullmatch(incoming):
        return incoming
    # an id only has to be unique, not unguessable: the secrets module reads
    # the kernel's entropy with a syscall per call, 2 % of a worker's CPU at
    # 1,000 alerts/s (py-spy); Python's Mersenne Twister does it in userland
    return f"{random.getrandbits(64):016x}"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = REQUEST_ID.get()
        if rid is not None:
            out["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in out:
                out[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            exc_type, _, tb = record.exc_info
            out["exc_type"] = exc_type.__name__
            out["stack"] = "".join(traceback.format_tb(tb))
        return orjson.dumps(out, default=str).decode()


# uvicorn's and websockets' line for each socket (websockets logs through
# uvicorn.error): DEBUG, not INFO. A refused handshake is one of them, not an
# ERROR. Matched on the message template, not on the formatted text.
SOCKET_LINES = frozenset(
    {
        "connection open",
        "connection closed",
        "connection rejected (%d %s)",
        "HTTP response sent (%d %s)",
    }
)


class SocketLines(logging.Filter):
    """Per-socket lines become DEBUG (the handler's level then drops them at
    INFO); uvicorn's own per-socket lines, which start with the client's IP
    address (personal data), are replaced by ours (dispatch.ws) and dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.msg if isinstance(record.msg, str) else ""
        if '"WebSocket %s"' in msg or "WebSocket connection" in msg or "WebSocket keepalive" in msg:
            return False
        if msg in SOCKET_LINES:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


def logging_config(level: str) -> dict[str, Any]:
    """dictConfig for `dispatch serve`: every line JSON on stderr, at `level`
    (log.level), uvicorn's own loggers included; the access log is off (our
    request lines, dispatch.http, say the route template, not the path)."""
    level = level.upper()
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "json",
        "stream": "ext://sys.stderr",
        "level": level,
    }
    ours = {"handlers": ["err"], "level": level, "propagate": False}
    # never below INFO: websockets logs every frame, headers and payload
    # (cookies, alert texts) when its logger is enabled for DEBUG; its
    # per-socket INFO lines reach DEBUG through SocketLines instead
    uvicorn = {**ours, "level": level if logging.getLevelName(level) > logging.INFO else "INFO"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"socket_lines": {"()": SocketLines}},
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"err": handler},
        "loggers": {
            "uvicorn": uvicorn,
            "uvicorn.error": {**uvicorn, "filters": ["socket_lines"]},
            "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
            "dispatch": ours,
            "websockets": {**uvicorn, "filters": ["socket_lines"]},
        },
        "root": {"handlers": ["err"], "level": "WARNING"},
    }
