"""What the fuzz tests share (tests/test_fuzz_*.py): a real server on either
store for a whole module, accounts of the roles that reach past the
authentication, the hostile values (ids, numbers, dates, text), and the
check that a 4xx has the contract's error shape."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.conftest import PG_ADMIN_URL, REDIS_URL, free_port, pg_url_for, require
from tests.e2e import CENTRE, PASSWORD, embedded_env, production_env
from tests.support import Server, dispatch_cli

STORES = ["sqlite", "postgres"]
SMS_SECRET = "fuzz-secret"
# the roles whose answers differ past authentication; the others (pending,
# rejected, suspended) stop at 403 not_validated before any parsing
ROLES = ("resident", "dispatcher", "supervisor", "moderator", "admin")

# Deterministic in CI: the same examples every run (derandomize derives the
# seed from the test's name), nothing remembered between runs, no deadline
# (the machine is shared: a slow answer is not a failure, a 5xx is).
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)


@contextlib.contextmanager
def module_db() -> Iterator[str]:
    """A fresh PostgreSQL database for one test module (conftest's pg_url is
    per test: a module's server outlives it)."""
    require("PostgreSQL", "127.0.0.1", 5432)
    import asyncpg

    name = "f_" + uuid.uuid4().hex[:12]

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield pg_url_for(name)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@dataclass
class Live:
    """A running server and one logged-in account per role."""

    store: str
    server: Server
    tokens: dict[str, str]
    ids: dict[str, int]

    @property
    def url(self) -> str:
        return self.server.url

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"} if role in self.tokens else {}


@contextlib.contextmanager
def live_server(store: str, tmp: Path) -> Iterator[Live]:
    with contextlib.ExitStack() as stack:
        if store == "sqlite":
            env = embedded_env(tmp)
        else:
            require("Redis", "127.0.0.1", 6379)
            env = production_env(stack.enter_context(module_db()), REDIS_URL, "f" + uuid.uuid4().hex[:10])
        # the fuzzer may sign its SMS bodies, to reach the parsing behind the
        # signature; and it fails logins by the hundred from one address
        env |= {
            "DISPATCH_NOTIFY_SMS_SECRET": SMS_SECRET,
            "DISPATCH_LIMITS_LOGIN_FAILURES_PER_ADDRESS": "1000000",
            "DISPATCH_LIMITS_SOCKETS_PER_ACCOUNT": "1000",
        }
        # one CLI run for every account (one import, not a process per role)
        rows = [f"{r},{r}@example.org,{PASSWORD},,{CENTRE[0] if r == 'resident' else ''},"
                f"{CENTRE[1] if r == 'resident' else ''}" for r in ROLES]  # fmt: skip
        (tmp / "accounts.csv").write_text("role,email,password,name,lat,lon\n" + "\n".join(rows) + "\n")
        dispatch_cli("user", "import", str(tmp / "accounts.csv"), env=env)
        server = Server(free_port(), env, log_path=tmp / "server.log")
        server.start()
        stack.callback(server.stop)
        tokens, ids = {}, {}
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for role in ROLES:
                r = http.post("/api/auth/login", json={"email": f"{role}@example.org", "password": PASSWORD})
                r.raise_for_status()
                tokens[role], ids[role] = r.json()["token"], r.json()["user_id"]
        yield Live(store, server, tokens, ids)


def sign(body: bytes) -> str:
    return hmac.new(SMS_SECRET.encode(), body, hashlib.sha256).hexdigest()


def assert_answer(r: httpx.Response, what: str) -> None:
    """No 5xx, and a 4xx is {"error": {"code", "message", "field"?}}."""
    assert_status(r.status_code, r.headers.get("content-type", ""), r.content, what)


def assert_status(status: int, content_type: str, content: bytes, what: str) -> None:
    assert status < 500, f"{what}: {status} {content[:300]!r}"
    if status < 400:
        return
    assert content_type.startswith("application/json"), f"{what}: {status} {content[:200]!r}"
    body = orjson.loads(content)
    assert isinstance(body, dict) and set(body) == {"error"}, f"{what}: {body}"
    err = body["error"]
    assert set(err) <= {"code", "message", "field"} and {"code", "message"} <= set(err), f"{what}: {err}"
    assert all(isinstance(v, str) and v for v in err.values()), f"{what}: {err}"


# -- hostile values ------------------------------------------------------------

MAX_I64 = 2**63 - 1
ID_TEXTS = [
    "0", "-1", "1", "2", "3", str(MAX_I64), str(2**63), str(2**64), str(10**30), "1.5", "1e3", " 1", "+1",
    "0x10", "abc", "", "²", "٣", "１", "1\x00", "NaN", "-0", "00000000000000000000001",
]  # fmt: skip
DATE_TEXTS = [
    "2024-01-01", "2024-01-01T00:00:00", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00+02:00",
    "0000-01-01T00:00:00", "0001-01-01T00:00:00+14:00", "0001-01-01", "9999-12-31T23:59:59-14:00",
    "9999-12-31", "10000-01-01", "2024-02-30", "2024-13-01", "2024-01-01T25:00", "2024-01-01T00:00:00+25:00",
    "20240101T000000", "2024-W01-1", "yesterday", "1700000000", "2024-01-01T00:00:00.123456789Z", "Z",
]  # fmt: skip
WEIRD_TEXTS = [
    "\x00", "a\x00b", "\u202eevil\u202c", "مرحبا", "😀" * 50, "\ufeff", "\u200b", "e\u0301", "\uffff",
    "x" * 5000, " ", "\n", "'; DROP TABLE alerts; --", "%00", "../../etc/passwd", "<script>", "null",
]  # fmt: skip
# lone surrogates: not encodable in UTF-8, so only as a JSON escape (or raw bytes)
SURROGATE_JSON = [b'"\\ud800"', b'"\\udfff"', b'"a\\ud83d"', b'"\\u0000"']

ids = st.one_of(st.sampled_from(ID_TEXTS), st.integers(min_value=-(2**70), max_value=2**70).map(str))
dates = st.one_of(st.sampled_from(DATE_TEXTS), st.datetimes().map(lambda d: d.isoformat()))
texts = st.one_of(st.sampled_from(WEIRD_TEXTS), st.text(max_size=40), st.text(st.characters(codec="utf-8")))
query_values = st.one_of(ids, dates, texts)

numbers = st.one_of(
    # orjson writes integers within 64 bits (signed or not); larger ones are RAW_TOKENS
    st.sampled_from([0, -0.0, 1, -1, 2**63 - 1, 2**63, 2**64 - 1, -(2**63), 1e30, 1e308, -1e308, 5e-324, 43.18, 3.0]),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
)
leaves = st.one_of(st.none(), st.booleans(), numbers, texts)
json_values: st.SearchStrategy[Any] = st.recursive(
    leaves,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(texts, inner, max_size=4)),
    max_leaves=12,
)
# raw JSON that orjson must refuse or that Python cannot encode back
RAW_TOKENS = [
    b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400", b"-0", b"1.0e-400", str(2**63).encode(),
    str(2**64).encode(), str(10**30).encode(), str(-(2**63) - 1).encode(), *SURROGATE_JSON,
]  # fmt: skip
