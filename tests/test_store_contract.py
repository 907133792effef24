"""One contract for dispatch.ports.Store, run against both adapters:
SQLite in tmp_path and PostgreSQL on a fresh database (the `pg_url` fixture)."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from dispatch.adapters import open_store
from dispatch.adapters.migrations import MIGRATIONS
from dispatch.adapters.store_postgres import PostgresStore
from dispatch.adapters.store_sqlite import SqliteStore
from dispatch.core.changes import Change, EventSpec, TriageState
from dispatch.core.model import (
    Alert,
    AlertQuery,
    Broadcast,
    Circle,
    Event,
    NewAlert,
    NewBroadcast,
    NewUser,
)
from dispatch.core.notify_settings import NotifySettings
from dispatch.core.outbox import Fanout, Nearby, NewOutbox, Texts
from dispatch.core.views import alert_staff, broadcast_view
from dispatch.ports.store import DuplicateEmail, NotFound, Store, StoreUnavailable

T0 = datetime(2024, 5, 1, 8, 30, 0, 123456, tzinfo=UTC)
ALL_VERSIONS = [m.version for m in MIGRATIONS]
POOL = 8  # keep well under the server's 100 connections shared with other suites
# what each backend raises for a broken constraint (the port defines none)
INTEGRITY_ERRORS = (sqlite3.IntegrityError, asyncpg.IntegrityConstraintViolationError)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "sqlite":
        # a folder that does not exist yet: the store creates it
        return f"sqlite:///{tmp_path / 'not' / 'yet' / 'dispatch.sqlite3'}"
    return str(request.getfixturevalue("pg_url"))


def make(db_url: str) -> Store:
    return open_store(db_url, pool_size=POOL)


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    s = make(db_url)
    await s.connect()
    assert await s.migrate() == ALL_VERSIONS
    yield s
    await s.close()


def user(email: str, role: str = "resident", **kw: Any) -> NewUser:
    kw.setdefault("password_hash", "argon2$x")
    return NewUser(role=role, email=email, **kw)


BASE_ALERT = NewAlert(
    author=0,
    category="noise",
    lat=43.184277,
    lon=3.003078,
    text="Tapage nocturne",
    client_id=None,
    sector="centre",
    cell="891f8d7a49bffff",
    priority=0.7,
    created_at=T0,
)


def new_alert(author: int, client_id: str | None = None, **kw: Any) -> NewAlert:
    return dataclasses.replace(BASE_ALERT, author=author, client_id=client_id, **kw)


async def create_alert(store: Store, new: NewAlert) -> tuple[Alert, Event | None]:
    """The alert and its alert.created event (None if it existed), through
    create_alert_grouped: these stores have no Grouping, so that is its only event."""
    created = await store.create_alert_grouped(new)
    return created.alert, created.events[0] if created.events else None


# What save() writes of an alert: a change to any other field would be in
# the event but not in the row.
ALERT_MUTABLE = frozenset({"status", "priority", "assignee", "notes", "updated_at", "incident"})


async def update_alert(
    store: Store, alert_id: int, change: Callable[[Alert], Alert], channels: Iterable[str] = ()
) -> tuple[Alert, Event]:
    """One alert changed through store.triage: the pure `change` (it may
    raise to abort) runs on the locked alert, and one alert.updated event is
    written on `channels`. Raises NotFound, or ValueError for a change to a
    field outside ALERT_MUTABLE."""

    def decide(state: TriageState) -> Change:
        old = state.alerts.get(alert_id)
        if old is None:
            raise NotFound(f"alert {alert_id}")
        new = change(old)
        changed = [
            f.name
            for f in dataclasses.fields(Alert)
            if f.name not in ALERT_MUTABLE and getattr(old, f.name) != getattr(new, f.name)
        ]
        if changed:
            raise ValueError(f"only {sorted(ALERT_MUTABLE)} may change, not {changed}")
        return Change(
            alerts=(new,),
            render=lambda saved: [EventSpec("alert.updated", alert_staff(saved.alerts[alert_id]), tuple(channels))],
        )

    saved, (event,) = await store.triage([], [alert_id], [], decide, datetime.now(UTC))
    return saved.alerts[alert_id], event


async def author(store: Store, email: str = "a@example.org") -> int:
    (uid,) = await store.add_users([user(email)])
    return uid


async def get_broadcast(store: Store, broadcast_id: int) -> Broadcast | None:
    """get_broadcast is not in the Store protocol: both adapters have it."""
    assert isinstance(store, (SqliteStore, PostgresStore))
    return await store.get_broadcast(broadcast_id)


async def home_sector(store: Store, user_id: int) -> str | None:
    u = await store.user_by_id(user_id)
    assert u is not None
    return u.home_sector


def assert_utc(ts: datetime) -> None:
    assert ts.tzinfo is not None and ts.utcoffset() == timedelta(0)


# -- lifecycle and migrations -------------------------------------------------


async def test_migrate_is_idempotent(db_url: str) -> None:
    s = make(db_url)
    await s.connect()
    try:
        assert await s.migrate() == ALL_VERSIONS
        assert await s.migrate() == []
        assert await s.head_seq() == 0
        assert await s.events_after(0) == []
    finally:
        await s.close()


async def test_concurrent_migrate_applies_each_version_once(db_url: str) -> None:
    stores = [make(db_url) for _ in range(4)]
    for s in stores:
        await s.connect()
    try:
        results = await asyncio.gather(*(s.migrate() for s in stores))
        applied = sorted(v for r in results for v in r)
        assert applied == ALL_VERSIONS
        await stores[0].add_users([user("x@example.org")])  # the schema works
    finally:
        for s in stores:
            await s.close()


async def test_ping(db_url: str) -> None:
    s = make(db_url)
    with pytest.raises(RuntimeError):
        await s.ping()  # not connected
    await s.connect()
    await s.ping()
    await s.close()
    with pytest.raises(RuntimeError):
        await s.ping()


async def test_ping_raises_when_the_server_is_unreachable() -> None:
    s = PostgresStore("postgresql://postgres@127.0.0.1:1/nowhere", pool_size=1)
    with pytest.raises(StoreUnavailable):  # the one error the port raises for it
        await s.connect()
    with pytest.raises(RuntimeError):
        await s.ping()


def test_open_store_by_scheme() -> None:
    s = open_store("sqlite:////tmp/x/dispatch.db")
    assert isinstance(s, SqliteStore) and s.path == Path("/tmp/x/dispatch.db")
    for url in ("postgresql://u@h:5432/db", "postgres://u@h/db"):
        p = open_store(url, pool_size=3)
        assert isinstance(p, PostgresStore) and p.url == url and p.pool_size == 3
    for bad in ("mysql://h/db", "sqlite:///", "nonsense"):
        with pytest.raises(ValueError):
            open_store(bad)


async def test_sqlite_pragmas(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "new" / "dir" / "d.sqlite3")
    await s.connect()
    try:
        assert (tmp_path / "new" / "dir").is_dir()
        pragmas = {}
        async with s._read() as db:
            for p in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout"):
                pragmas[p] = next(iter(await db.execute_fetchall(f"PRAGMA {p}")))[0]
        assert pragmas["journal_mode"] == "wal"
        assert pragmas["synchronous"] == 2  # FULL
        assert pragmas["foreign_keys"] == 1
        assert pragmas["busy_timeout"] > 0
    finally:
        await s.close()


async def test_durable_across_reopen(db_url: str) -> None:
    s = make(db_url)
    await s.connect()
    await s.migrate()
    uid = await author(s)
    alert, event = await create_alert(s, new_alert(uid, "c1"))
    b, _ = await s.create_broadcast(NewBroadcast(uid, ("centre",), None, "Route fermée", "warning", 3, T0))
    await s.close()

    s2 = make(db_url)
    await s2.connect()
    try:
        assert await s2.migrate() == []
        assert await s2.get_alert(alert.id) == alert
        assert await s2.events_after(0) == [event, (await s2.events_after(1))[0]]
        assert await s2.head_seq() == 2
        assert await get_broadcast(s2, b.id) == b
        again, none = await create_alert(s2, new_alert(uid, "c1"))
        assert again == alert and none is None
    finally:
        await s2.close()


# -- accounts -----------------------------------------------------------------


async def test_add_users_and_lookup(store: Store) -> None:
    before = datetime.now(UTC)
    ids = await store.add_users(
        [
            user("Alice@Example.org", name="Alice", home_lat=43.18, home_lon=3.0, home_sector="centre"),
            user("bob@example.org", role="dispatcher", validated=False),
        ]
    )
    assert len(ids) == 2 and ids[0] != ids[1]
    alice = await store.user_by_email("ALICE@example.ORG")
    assert alice is not None and alice.id == ids[0]
    assert alice.email == "alice@example.org"  # stored lower-cased
    assert (alice.role, alice.name, alice.home_lat, alice.home_lon, alice.home_sector, alice.validated) == (
        "resident",
        "Alice",
        43.18,
        3.0,
        "centre",
        True,
    )
    assert alice.password_hash == "argon2$x"
    assert_utc(alice.created_at)
    assert before - timedelta(seconds=5) <= alice.created_at <= datetime.now(UTC) + timedelta(seconds=5)
    bob = await store.user_by_id(ids[1])
    assert bob is not None and bob.email == "bob@example.org" and bob.validated is False and bob.is_staff
    assert bob.home_lat is None and bob.home_sector is None
    assert await store.user_by_email("nobody@example.org") is None
    assert await store.user_by_id(999_999) is None
    assert await store.add_users([]) == []


async def test_add_users_returns_ids_in_order(store: Store) -> None:
    batch = [user(f"u{i:03d}@example.org", name=str(i)) for i in range(150)]
    ids = await store.add_users(batch)
    assert len(set(ids)) == 150
    for i in (0, 77, 149):
        u = await store.user_by_id(ids[i])
        assert u is not None and u.name == str(i) and u.email == f"u{i:03d}@example.org"


async def test_add_users_duplicate_within_batch_inserts_nothing(store: Store) -> None:
    with pytest.raises(DuplicateEmail) as info:
        await store.add_users([user("a@example.org"), user("b@example.org"), user("A@EXAMPLE.org")])
    assert info.value.index == 2 and info.value.email.lower() == "a@example.org"
    assert await store.user_by_email("a@example.org") is None
    assert await store.user_by_email("b@example.org") is None


async def test_add_users_duplicate_of_existing_inserts_nothing(store: Store) -> None:
    await store.add_users([user("taken@example.org")])
    with pytest.raises(DuplicateEmail) as info:
        await store.add_users([user("fresh@example.org"), user("Taken@Example.org"), user("other@example.org")])
    assert info.value.index == 1
    assert await store.user_by_email("fresh@example.org") is None
    assert await store.user_by_email("other@example.org") is None


async def test_concurrent_add_users_same_email(store: Store) -> None:
    results = await asyncio.gather(
        *(store.add_users([user(f"solo{i}@example.org"), user("race@example.org")]) for i in range(6)),
        return_exceptions=True,
    )
    ok = [r for r in results if isinstance(r, list)]
    dup = [r for r in results if isinstance(r, DuplicateEmail)]
    assert len(ok) == 1 and len(dup) == 5, results
    assert all(d.index == 1 for d in dup)


async def test_sessions(store: Store) -> None:
    uid = await author(store)
    await store.add_session("h1", uid, T0 + timedelta(hours=12))
    u = await store.session_user("h1", T0)
    assert u is not None and u.id == uid
    assert await store.session_user("h1", T0 + timedelta(hours=11, minutes=59)) is not None
    assert await store.session_user("h1", T0 + timedelta(hours=12)) is None  # expires_at > now, strictly
    assert await store.session_user("h2", T0) is None
    # the same instant in another zone
    paris = timezone(timedelta(hours=2))
    assert await store.session_user("h1", (T0 + timedelta(hours=13)).astimezone(paris)) is None
    assert await store.session_user("h1", (T0 + timedelta(hours=1)).astimezone(paris)) is not None


async def test_sessions_are_read_many_at_once(store: Store) -> None:
    uid = await author(store)
    other = await author(store, "b@example.org")
    await store.add_session("h1", uid, T0 + timedelta(hours=12), True)
    await store.add_session("h2", other, T0 + timedelta(hours=1))
    await store.add_session("h3", uid, T0 - timedelta(seconds=1))  # expired
    found = await store.sessions(["h1", "h2", "h3", "nope"], T0)
    assert sorted(found) == ["h1", "h2"]
    assert (found["h1"].user.id, found["h1"].wall) == (uid, True)
    assert found["h2"] == await store.session("h2", T0)
    assert await store.sessions([], T0) == {}


async def test_sessions_know_their_last_use_and_whether_they_are_a_walls(store: Store) -> None:
    uid = await author(store)
    before = datetime.now(UTC)
    await store.add_session("desk", uid, T0 + timedelta(days=3650))
    await store.add_session("wall", uid, T0 + timedelta(days=3650), wall=True)
    desk, wall = await store.session("desk", T0), await store.session("wall", T0)
    assert desk is not None and wall is not None
    assert desk.user.id == uid and not desk.wall and wall.wall
    assert before <= desk.last_used_at <= datetime.now(UTC)  # a login is a use
    await store.touch_session("desk", T0 + timedelta(hours=1))
    touched = await store.session("desk", T0)
    assert touched is not None and touched.last_used_at == T0 + timedelta(hours=1)
    assert (await store.session("wall", T0)).last_used_at == wall.last_used_at  # type: ignore[union-attr]
    assert await store.session("nope", T0) is None
    assert await store.session("desk", T0 + timedelta(days=3651)) is None


async def test_passwords_listing_and_disabling(store: Store) -> None:
    res, disp = await store.add_users([user("r@x.org"), user("d@x.org", role="dispatcher", validated=False)])
    assert await store.set_password("R@X.org", "argon2$new") == res
    assert (await store.user_by_email("r@x.org")).password_hash == "argon2$new"  # type: ignore[union-attr]
    assert await store.set_password("nobody@x.org", "h") is None
    assert await store.list_accounts() == [
        (res, "resident", "r@x.org", "validated"),
        (disp, "dispatcher", "d@x.org", "pending"),
    ]
    await store.add_session("tok", disp, T0 + timedelta(days=3650))
    assert await store.disable_user("d@x.org", T0) == disp
    assert await store.disable_user("d@x.org", T0 + timedelta(hours=1)) == disp  # again: still disabled
    assert await store.disable_user("nobody@x.org", T0) is None
    assert await store.user_by_email("d@x.org") is None and await store.session("tok", T0) is None
    assert await store.user_by_id(disp) is not None  # its row stays: its alerts name it
    assert await store.list_accounts("dispatcher") == [(disp, "dispatcher", "d@x.org", "disabled")]


async def test_migration_5_keeps_older_sessions_usable(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A session written before migration 5 has no last use: its creation
    stands in, and it is not a wall's."""
    from dispatch.adapters import migrations

    s = make(db_url)
    await s.connect()
    try:
        monkeypatch.setattr(migrations, "MIGRATIONS", tuple(m for m in migrations.MIGRATIONS if m.version < 5))
        await s.migrate()
        monkeypatch.undo()
        async with s._write_tx() as tx:  # type: ignore[attr-defined]
            d = tx.dialect
            # written as a version-4 store wrote it (add_users now audits, in a later table)
            sql = (
                "INSERT INTO users (role, email, password_hash, created_at) VALUES ('resident', ?, 'x', ?) RETURNING id"
            )
            uid = (await tx.rows(d.render(sql), "a@example.org", d.ts_param(T0)))[0][0]
            await tx.execute(
                d.render("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)"),
                "old",
                uid,
                d.ts_param(T0),
                d.ts_param(T0 + timedelta(days=1)),
            )
        assert 5 in await s.migrate()
        old = await s.session("old", T0)
        assert old is not None and old.user.id == uid and not old.wall and old.last_used_at == T0
    finally:
        await s.close()


async def test_end_sessions_deletes_them_and_tells_every_worker(store: Store) -> None:
    uid = await author(store)
    for h in ("a1", "a2", "a3"):
        await store.add_session(h, uid, T0 + timedelta(hours=12))
    one = await store.end_sessions(uid, "a1", 4001, T0)
    assert one.type == "session.ended" and one.data == {"user": uid, "token": "a1", "code": 4001}
    assert list(one.links) == ["control"]
    assert await store.session_user("a1", T0) is None and await store.session_user("a2", T0) is not None
    every = await store.end_sessions(uid, None, 4003, T0)
    assert every.seq > one.seq and every.links == {"control": one.seq}
    assert await store.session_user("a2", T0) is None and await store.session_user("a3", T0) is None
    assert [e.seq for e in await store.events_after(0, channel="control")] == [one.seq, every.seq]


async def test_resident_homes(store: Store) -> None:
    ids = await store.add_users(
        [
            user("r1@x.org", home_lat=43.1, home_lon=3.0, home_sector="nord"),
            user("r2@x.org", role="referent", home_lat=43.2, home_lon=3.1, home_sector="sud"),
            user("r3@x.org", home_lat=43.3, home_lon=3.2, home_sector=None),
            user("r4@x.org", home_lat=43.4, home_lon=3.3, home_sector="nord", validated=False),
            user("r5@x.org"),  # no home
            user("d1@x.org", role="dispatcher", home_lat=43.5, home_lon=3.4, home_sector="nord"),
        ]
    )
    homes = await store.resident_homes()
    assert sorted(homes) == sorted([(ids[0], 43.1, 3.0, "nord"), (ids[1], 43.2, 3.1, "sud"), (ids[2], 43.3, 3.2, None)])
    assert await store.resident_homes(["nord"]) == [(ids[0], 43.1, 3.0, "nord")]
    assert sorted(await store.resident_homes(["nord", "sud"])) == sorted(
        [(ids[0], 43.1, 3.0, "nord"), (ids[1], 43.2, 3.1, "sud")]
    )
    assert await store.resident_homes([]) == []


async def test_set_home_sectors(store: Store) -> None:
    ids = await store.add_users(
        [
            user("r1@x.org", home_lat=43.1, home_lon=3.0, home_sector="nord"),
            user("r2@x.org", home_lat=43.2, home_lon=3.0, home_sector="nord"),
            user("r3@x.org", home_lat=43.3, home_lon=3.0, home_sector=None),
            user("r4@x.org"),
        ]
    )

    def assign(lat: float, lon: float) -> str | None:
        return {43.1: "nord", 43.2: "sud", 43.3: "est"}.get(lat)

    assert await store.set_home_sectors(assign) == 2
    assert [await home_sector(store, i) for i in ids] == ["nord", "sud", "est", None]
    assert await store.set_home_sectors(assign) == 0
    assert await store.set_home_sectors(lambda lat, lon: None) == 3
    assert await store.resident_homes(["nord", "sud", "est"]) == []

    def boom(lat: float, lon: float) -> str | None:
        if lat > 43.15:
            raise ZeroDivisionError
        return "x"

    with pytest.raises(ZeroDivisionError):
        await store.set_home_sectors(boom)
    assert await home_sector(store, ids[0]) is None


# -- alerts ---------------------------------------------------------------------


async def test_create_alert(store: Store) -> None:
    uid = await author(store)
    alert, event = await create_alert(store, new_alert(uid, "c-1"))
    assert event is not None
    assert (alert.author, alert.category, alert.lat, alert.lon, alert.text, alert.client_id) == (
        uid,
        "noise",
        43.184277,
        3.003078,
        "Tapage nocturne",
        "c-1",
    )
    assert (alert.sector, alert.cell, alert.priority) == ("centre", "891f8d7a49bffff", 0.7)
    assert (alert.status, alert.assignee, alert.notes) == ("new", None, ())
    assert alert.created_at == alert.updated_at == T0
    assert_utc(alert.created_at)
    assert alert.seq == event.seq == 1
    assert event.type == "alert.created" and event.data == alert_staff(alert)
    assert_utc(event.created_at)
    assert await store.get_alert(alert.id) == alert
    assert await store.get_alert(alert.id + 1000) is None
    assert await store.events_after(0) == [event]
    assert await store.head_seq() == 1


async def test_create_alert_normalises_timezones(store: Store) -> None:
    uid = await author(store)
    paris = timezone(timedelta(hours=2))
    alert, event = await create_alert(store, new_alert(uid, created_at=T0.astimezone(paris)))
    assert alert.created_at == T0 and alert.created_at.utcoffset() == timedelta(0)
    stored = await store.get_alert(alert.id)
    assert stored is not None and stored.created_at == T0 and stored.created_at.utcoffset() == timedelta(0)
    assert event is not None and event.data["created_at"] == "2024-05-01T08:30:00.123Z"
    assert (await store.events_after(0))[0].data == event.data


async def test_create_alert_is_idempotent_per_author_and_client_id(store: Store) -> None:
    a1, a2 = await store.add_users([user("a1@x.org"), user("a2@x.org")])
    first, ev = await create_alert(store, new_alert(a1, "same"))
    again, none = await create_alert(store, new_alert(a1, "same", text="changed", created_at=T0 + timedelta(1)))
    assert ev is not None and none is None
    assert again == first
    other, ev2 = await create_alert(store, new_alert(a2, "same"))  # another author may reuse it
    assert ev2 is not None and other.id != first.id
    n1, e1 = await create_alert(store, new_alert(a1, None))
    n2, e2 = await create_alert(store, new_alert(a1, None))  # no client_id: never deduplicated
    assert e1 is not None and e2 is not None and n1.id != n2.id
    assert [e.seq for e in await store.events_after(0)] == [1, 2, 3, 4]
    assert await store.head_seq() == 4


async def test_create_alert_idempotent_under_concurrency(store: Store) -> None:
    uid = await author(store)
    results = await asyncio.gather(*(create_alert(store, new_alert(uid, "retry")) for _ in range(30)))
    assert len({a.id for a, _ in results}) == 1
    assert sum(e is not None for _, e in results) == 1
    assert all(a == results[0][0] for a, _ in results)
    events = await store.events_after(0)
    assert len(events) == 1 and await store.head_seq() == 1


async def test_failed_create_alert_leaves_no_gap(store: Store) -> None:
    uid = await author(store)
    with pytest.raises(INTEGRITY_ERRORS):
        await create_alert(store, new_alert(987_654))  # unknown author: foreign key
    assert await store.head_seq() == 0
    a, e = await create_alert(store, new_alert(uid))
    assert e is not None and e.seq == a.seq == 1


async def test_one_bad_alert_fails_alone(store: Store) -> None:
    uid = await author(store)
    calls = [create_alert(store, new_alert(uid, f"ok{i}")) for i in range(20)]
    calls.insert(7, create_alert(store, new_alert(987_654, "bad")))  # unknown author
    results = await asyncio.gather(*calls, return_exceptions=True)
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(failed) == 1 and results[7] is failed[0] and isinstance(failed[0], INTEGRITY_ERRORS)
    events = [r[1] for r in results if not isinstance(r, BaseException)]
    assert sorted(e.seq for e in events if e is not None) == list(range(1, 21))
    assert [e.seq for e in await store.events_after(0)] == list(range(1, 21))


async def test_two_stores_racing_on_the_same_client_ids(db_url: str, store: Store) -> None:
    """Two instances (as two worker processes would) on one database."""
    uid = await author(store)
    other = make(db_url)
    await other.connect()
    try:
        calls = [create_alert(s, new_alert(uid, f"k{i % 25}")) for i in range(100) for s in (store, other)]
        results = await asyncio.gather(*calls)
    finally:
        await other.close()
    by_key: dict[str, set[int]] = {}
    for alert, _ in results:
        by_key.setdefault(alert.client_id or "", set()).add(alert.id)
    assert len(by_key) == 25 and all(len(ids) == 1 for ids in by_key.values())
    assert sum(e is not None for _, e in results) == 25
    events = await store.events_after(0)
    assert [e.seq for e in events] == list(range(1, 26)) and await store.head_seq() == 25


async def test_cancelled_callers_leave_no_gap(store: Store) -> None:
    uid = await author(store)
    tasks = [asyncio.create_task(create_alert(store, new_alert(uid, f"x{i}"))) for i in range(60)]
    await asyncio.sleep(0)
    for t in tasks[::4]:
        t.cancel()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    written = [r for r in done if not isinstance(r, BaseException)]
    assert len(written) >= 45
    events = await store.events_after(0)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert {e.data["id"] for e in events} >= {a.id for a, _ in written}
    _, e = await create_alert(store, new_alert(uid, "after"))
    assert e is not None and e.seq == len(events) + 1


async def test_cancelled_writes_leave_the_store_consistent(store: Store) -> None:
    """Callers cancelled at any point of a write (client gone): no gap, no
    transaction left open, the store keeps working."""
    uid = await author(store)
    alert, _ = await create_alert(store, new_alert(uid))

    def note(a: Alert) -> Alert:
        return dataclasses.replace(a, notes=(*a.notes, {"n": len(a.notes)}))

    for delay in range(12):
        tasks: list[asyncio.Task[Any]] = [asyncio.create_task(update_alert(store, alert.id, note)) for _ in range(3)]
        tasks.append(
            asyncio.create_task(store.create_broadcast(NewBroadcast(uid, ("centre",), None, "b", "info", 0, T0)))
        )
        for _ in range(delay):
            await asyncio.sleep(0)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    _, last = await update_alert(store, alert.id, note)
    events = await store.events_after(0, limit=10_000)
    assert [e.seq for e in events] == list(range(1, len(events) + 1)) and events[-1] == last
    final = await store.get_alert(alert.id)
    assert final is not None and last.data == alert_staff(final)
    updates = [e for e in events if e.type == "alert.updated"]
    assert [len(e.data["notes"]) for e in updates] == list(range(1, len(updates) + 1))


async def test_concurrent_writes_are_gapless_and_in_order(store: Store, backend: str) -> None:
    uid = await author(store)
    n = 200
    results = await asyncio.gather(*(create_alert(store, new_alert(uid, f"c{i}")) for i in range(n)))
    seqs = sorted(e.seq for _, e in results if e is not None)
    assert seqs == list(range(1, n + 1))
    events = await store.events_after(0, limit=10_000)
    assert [e.seq for e in events] == list(range(1, n + 1))
    by_seq = {e.seq: (a, e) for a, e in results if e is not None}
    for ev in events:
        alert, returned = by_seq[ev.seq]
        assert ev.type == "alert.created" and ev.data == returned.data == alert_staff(alert)
        assert alert.seq == ev.seq
    assert await store.head_seq() == n


async def test_mixed_concurrent_writes_are_gapless(store: Store) -> None:
    uid = await author(store)
    base = [a for a, _ in await asyncio.gather(*(create_alert(store, new_alert(uid)) for _ in range(10)))]

    def bump(a: Alert) -> Alert:
        return dataclasses.replace(a, priority=a.priority + 1, updated_at=a.updated_at + timedelta(seconds=1))

    tasks: list[Any] = []
    for i in range(60):
        if i % 3 == 0:
            tasks.append(create_alert(store, new_alert(uid)))
        elif i % 3 == 1:
            tasks.append(update_alert(store, base[i % 10].id, bump))
        else:
            tasks.append(store.create_broadcast(NewBroadcast(uid, ("centre",), None, f"b{i}", "info", 0, T0)))
    results = await asyncio.gather(*tasks)
    events = await store.events_after(0, limit=10_000)
    assert [e.seq for e in events] == list(range(1, 71))
    returned = {e.seq: e for _, e in results if e is not None}
    for ev in events[10:]:
        assert returned[ev.seq] == ev
    assert (
        sorted(e.type for e in events[10:]) == ["alert.created"] * 20 + ["alert.updated"] * 20 + ["broadcast.sent"] * 20
    )
    assert await store.head_seq() == 70


async def test_update_alert(store: Store) -> None:
    uid = await author(store)
    alert, created = await create_alert(store, new_alert(uid, "u1"))
    later = T0 + timedelta(minutes=5)
    note = {"by": "disp1", "text": "Patrouille en route", "at": "2024-05-01T08:35:00.000Z"}

    def take(a: Alert) -> Alert:
        return dataclasses.replace(
            a, status="in_progress", assignee="Patrouille 3", priority=0.95, notes=a.notes + (note,), updated_at=later
        )

    updated, event = await update_alert(store, alert.id, take)
    assert (updated.status, updated.assignee, updated.priority, updated.notes) == (
        "in_progress",
        "Patrouille 3",
        0.95,
        (note,),
    )
    assert updated.updated_at == later and updated.created_at == T0
    assert updated.seq == alert.seq == 1  # alerts.seq stays the creation seq
    assert event.seq == 2 and event.type == "alert.updated" and event.data == alert_staff(updated)
    assert_utc(event.created_at)
    assert await store.get_alert(alert.id) == updated
    assert await store.events_after(1) == [event]
    assert (await store.events_after(0))[0] == created


async def test_update_alert_unknown_id(store: Store) -> None:
    with pytest.raises(NotFound):
        await update_alert(store, 12345, lambda a: a)
    assert await store.head_seq() == 0


async def test_update_alert_change_raising_rolls_back(store: Store) -> None:
    uid = await author(store)
    alert, _ = await create_alert(store, new_alert(uid))

    class Refused(Exception):
        pass

    def refuse(a: Alert) -> Alert:
        raise Refused("already closed")

    with pytest.raises(Refused, match="already closed"):
        await update_alert(store, alert.id, refuse)
    with pytest.raises(ValueError):  # fields the store does not write may not change
        await update_alert(store, alert.id, lambda a: dataclasses.replace(a, text="rewritten"))
    assert await store.get_alert(alert.id) == alert
    assert await store.head_seq() == 1
    # the store is still usable afterwards
    _, ev = await update_alert(store, alert.id, lambda a: dataclasses.replace(a, status="closed"))
    assert ev.seq == 2


async def test_concurrent_updates_do_not_lose_writes(store: Store) -> None:
    uid = await author(store)
    alert, _ = await create_alert(store, new_alert(uid))

    def add_note(i: int) -> Callable[[Alert], Alert]:
        return lambda a: dataclasses.replace(a, notes=a.notes + ({"n": i},))

    results = await asyncio.gather(*(update_alert(store, alert.id, add_note(i)) for i in range(25)))
    final = await store.get_alert(alert.id)
    assert final is not None and sorted(n["n"] for n in final.notes) == list(range(25))
    assert sorted(e.seq for _, e in results) == list(range(2, 27))
    # each event carries the notes as they were after that update
    for _, ev in results:
        assert len(ev.data["notes"]) == ev.seq - 1


async def test_list_alerts(store: Store) -> None:
    a1, a2 = await store.add_users([user("a1@x.org"), user("a2@x.org")])
    specs = [
        (a1, "noise", "centre", 0),
        (a1, "theft", "nord", 1),
        (a2, "noise", "nord", 2),
        (a2, "fire", "centre", 3),
        (a1, "noise", "centre", 4),
    ]
    made = []
    for who, cat, sector, minutes in specs:
        a, _ = await create_alert(
            store, new_alert(who, category=cat, sector=sector, created_at=T0 + timedelta(minutes=minutes))
        )
        made.append(a)
    await update_alert(store, made[1].id, lambda a: dataclasses.replace(a, status="closed"))

    def ids(alerts: Iterable[Alert]) -> list[int]:
        return [a.id for a in alerts]

    everything = await store.list_alerts(AlertQuery())
    assert ids(everything) == ids(reversed(made))  # newest first
    assert everything[3].status == "closed"
    assert ids(await store.list_alerts(AlertQuery(limit=2))) == [made[4].id, made[3].id]
    assert ids(await store.list_alerts(AlertQuery(status="closed"))) == [made[1].id]
    assert ids(await store.list_alerts(AlertQuery(status="new", sector="nord"))) == [made[2].id]
    assert ids(await store.list_alerts(AlertQuery(category="noise"))) == [made[4].id, made[2].id, made[0].id]
    assert ids(await store.list_alerts(AlertQuery(author=a2))) == [made[3].id, made[2].id]
    since = T0 + timedelta(minutes=3)
    assert ids(await store.list_alerts(AlertQuery(since=since))) == [made[4].id, made[3].id]  # inclusive
    paris = timezone(timedelta(hours=2))
    assert ids(await store.list_alerts(AlertQuery(since=since.astimezone(paris)))) == [made[4].id, made[3].id]
    assert ids(await store.list_alerts(AlertQuery(ids=(made[0].id, made[3].id, 99999)))) == [made[3].id, made[0].id]
    assert await store.list_alerts(AlertQuery(ids=())) == []
    assert ids(await store.list_alerts(AlertQuery(ids=(made[0].id, made[3].id), sector="centre", author=a1))) == [
        made[0].id
    ]
    assert await store.list_alerts(AlertQuery(sector="nowhere")) == []


# -- broadcasts -----------------------------------------------------------------


async def test_create_broadcast(store: Store) -> None:
    uid = await author(store)
    b1, e1 = await store.create_broadcast(NewBroadcast(uid, ("centre", "nord"), None, "Inondation", "urgent", 42, T0))
    assert (b1.author, b1.sectors, b1.circle, b1.text, b1.level, b1.recipients) == (
        uid,
        ("centre", "nord"),
        None,
        "Inondation",
        "urgent",
        42,
    )
    assert b1.created_at == T0 and b1.seq == e1.seq == 1
    assert e1.type == "broadcast.sent" and e1.data == broadcast_view(b1)
    circle = Circle(43.18, 3.0, 250.0)
    b2, e2 = await store.create_broadcast(NewBroadcast(uid, None, circle, "Fuite de gaz", "warning", 7, T0))
    assert b2.circle == circle and b2.sectors is None and e2.seq == 2 and b2.id != b1.id
    assert e2.data == broadcast_view(b2) and e2.data["circle"] == {"lat": 43.18, "lon": 3.0, "radius_m": 250.0}
    assert await store.events_after(0) == [e1, e2]
    assert await get_broadcast(store, b1.id) == b1
    assert await get_broadcast(store, b2.id) == b2
    assert await get_broadcast(store, b2.id + 100) is None


# -- the event log ----------------------------------------------------------------


async def test_events_after_pages_in_order(store: Store) -> None:
    uid = await author(store)
    assert await store.head_seq() == 0
    for i in range(7):
        await create_alert(store, new_alert(uid, f"p{i}"))
    assert [e.seq for e in await store.events_after(0, limit=3)] == [1, 2, 3]
    assert [e.seq for e in await store.events_after(3, limit=3)] == [4, 5, 6]
    assert [e.seq for e in await store.events_after(6, limit=3)] == [7]
    assert await store.events_after(7) == []
    assert await store.events_after(2, limit=0) == []
    ev = (await store.events_after(4, limit=1))[0]
    assert isinstance(ev.data, dict) and ev.data["client_id"] == "p4" and ev.data["seq"] == 5
    assert await store.head_seq() == 7


# -- channels and links (the live path's gap detection) ------------------------


async def test_links_chain_each_channel(store: Store) -> None:
    author_id = await author(store)
    plan = [("ops", "c:a"), ("ops", "c:b"), ("ops", "c:a", "c:b"), ("ops",), ("ops", "c:a")]
    events = []
    for channels in plan:
        _, event = await create_alert(store, new_alert(author_id, channels=channels))
        assert event is not None
        events.append(event)
    prev: dict[str, int] = {}
    for event, channels in zip(events, plan):
        assert dict(event.links) == {c: prev.get(c, 0) for c in channels}
        for c in channels:
            prev[c] = event.seq
    assert await store.channel_heads(["ops", "c:a", "c:b", "c:none"]) == {**prev, "c:none": 0}
    assert await store.channel_head("c:b") == prev["c:b"]
    in_a = await store.events_after(0, channel="c:a")
    assert [e.seq for e in in_a] == [events[i].seq for i in (0, 2, 4)]
    assert [dict(e.links) for e in in_a] == [dict(events[i].links) for i in (0, 2, 4)]
    assert [e.seq for e in await store.events_after(events[0].seq, channel="c:a")] == [events[2].seq, events[4].seq]


async def test_links_across_event_kinds_and_concurrency(store: Store) -> None:
    author_id = await author(store)
    results = await asyncio.gather(
        *(create_alert(store, new_alert(author_id, channels=("ops", f"c:{i % 3}"))) for i in range(60))
    )
    alert, _ = results[0]
    _, upd = await update_alert(store, alert.id, lambda a: dataclasses.replace(a, status="acknowledged"), ["ops"])
    b, bev = await store.create_broadcast(
        NewBroadcast(author_id, ("centre",), None, "x", "info", 0, T0, channels=("ops", "c:1"))
    )
    everything = await store.events_after(0, limit=1000)
    assert [e.seq for e in everything] == list(range(1, len(everything) + 1))
    for name in ("ops", "c:0", "c:1", "c:2"):
        chain = await store.events_after(0, channel=name)
        assert [dict(e.links)[name] for e in chain] == [0] + [e.seq for e in chain[:-1]]
    assert dict(upd.links) == {"ops": upd.seq - 1} and dict(bev.links)["ops"] == upd.seq
    assert (await store.channel_head("ops")) == bev.seq


# -- incident history (append-only since migration 3) ---------------------------


async def test_migration_3_moves_each_incidents_history_to_rows_in_order(
    db_url: str, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database at version 2 kept each incident's history as a JSON array
    in its row: after migrating, the same entries come back in order, and a
    triage write appends after them."""
    import json

    from dispatch.adapters import migrations
    from dispatch.core.changes import Change
    from dispatch.core.model import evolve

    history = {
        1: [
            {"at": "2024-05-01T08:30:00Z", "actor": None, "action": "opened", "alert": 7},
            {"at": "2024-05-01T08:31:00Z", "actor": 3, "action": "status", "to": "acknowledged", "note": "é"},
        ],
        2: [],
        3: [{"at": "2024-05-01T08:32:00Z", "actor": None, "action": "opened", "alert": 9}],
    }
    s = make(db_url)
    await s.connect()
    try:
        monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:2])
        assert await s.migrate() == [1, 2]
        monkeypatch.undo()
        for iid, entries in history.items():
            sql = (
                "INSERT INTO incidents (id, category, sector, cell, lat, lon, status, priority, pinned, unit_id,"
                " alerts, authors, vulnerable, escalation, created_at, updated_at, ack_due_at, history)"
                " VALUES ({}, 'theft', 'centre', 'c', 43.1, 3.0, 'new', 1.0, {}, NULL, '[]', '[]', {}, 0, {}, {}, {}, {})"
            )
            args = [iid, False, False, T0, T0, T0, json.dumps(entries)]
            if backend == "postgres":
                assert isinstance(s, PostgresStore)
                await s.pool.execute(sql.format(*(f"${i}" for i in range(1, 8))), *args)
            else:
                assert isinstance(s, SqliteStore)
                async with s._write_tx() as tx:
                    await tx.execute(
                        sql.format(*"???????"),
                        iid,
                        0,
                        0,
                        tx.dialect.ts_param(T0),
                        tx.dialect.ts_param(T0),
                        tx.dialect.ts_param(T0),
                        args[-1],
                    )
        assert await s.migrate() == ALL_VERSIONS[2:]  # 3, and those after it
        got = await s.incident_history([1, 2, 3, 4])
        assert got == {1: tuple(history[1]), 3: tuple(history[3])}
        note = {"at": "2024-05-01T08:40:00Z", "actor": 3, "action": "note", "note": "vu"}

        def decide(state: Any) -> Change:
            inc = state.incidents[1]
            assert inc.history == ()  # read without it: only what a change adds is written
            return Change(incidents=(evolve(inc, history=(note,)),))

        await s.triage([1], [], [], decide, T0)
        assert (await s.incident_history([1]))[1] == (*history[1], note)
    finally:
        await s.close()


# -- joining and moderation (migration 4) ----------------------------------------

from dispatch.core.model import NewProof  # noqa: E402
from dispatch.ports.store import DuplicateFlag  # noqa: E402


def applicant(email: str, uid: int, **kw: Any) -> NewUser:
    kw.setdefault("home_lat", 43.18)
    kw.setdefault("home_lon", 3.0)
    kw.setdefault("home_sector", "centre")
    return user(email, status="pending", address="3 rue du Pont", phone="+33612345678", id=uid, **kw)


def proof_file(name: str = "a" * 32, at: datetime = T0) -> NewProof:
    return NewProof(name, "application/pdf", 1234, at)


async def test_add_resident_keeps_the_application_and_its_proof(store: Store) -> None:
    uid = await store.add_resident(applicant("Jo@Example.org", 2**40 + 7, on_behalf_of="Mme Aînée"), proof_file())
    assert uid == 2**40 + 7
    jo = await store.user_by_email("jo@example.org")
    assert jo is not None and jo.id == uid and jo.status == "pending" and not jo.validated
    assert (jo.address, jo.phone, jo.on_behalf_of, jo.home_sector) == (
        "3 rue du Pont",
        "+33612345678",
        "Mme Aînée",
        "centre",
    )
    assert await store.resident_homes() == []  # not validated: nobody's recipient yet
    proof = await store.latest_proof(uid)
    assert proof is not None and proof.user_id == uid and proof.file_name == "a" * 32
    assert (proof.media_type, proof.size, proof.created_at, proof.decided_at) == ("application/pdf", 1234, T0, None)
    assert await store.latest_proof(uid + 1) is None


async def test_add_resident_with_a_known_email_writes_nothing(store: Store) -> None:
    taken = await author(store, "taken@example.org")
    with pytest.raises(DuplicateEmail):
        await store.add_resident(applicant("TAKEN@example.org", 2**40), proof_file())
    assert await store.user_by_id(2**40) is None and await store.latest_proof(2**40) is None
    assert (await store.user_by_email("taken@example.org")).id == taken  # type: ignore[union-attr]
    results = await asyncio.gather(
        *(store.add_resident(applicant("race@example.org", 2**40 + i), proof_file(f"{i:032x}")) for i in range(1, 5)),
        return_exceptions=True,
    )
    assert sum(isinstance(r, int) for r in results) == 1, results
    assert sum(isinstance(r, DuplicateEmail) for r in results) == 3


async def test_residents_by_status_oldest_first_residents_only(store: Store) -> None:
    ids = [await store.add_resident(applicant(f"p{i}@x.org", 2**40 + i), proof_file(f"{i:032x}")) for i in range(3)]
    await store.add_users([user("staff@x.org", role="moderator", status="pending")])
    pending = await store.residents_by_status("pending", 10)
    assert [u.id for u in pending] == ids
    assert [u.id for u in await store.residents_by_status("pending", 2)] == ids[:2]
    assert await store.residents_by_status("rejected", 10) == []


async def test_set_account_status_decides_proofs_and_keeps_validated_in_step(store: Store) -> None:
    uid = await store.add_resident(applicant("p@x.org", 2**40), proof_file())
    later = T0 + timedelta(hours=1)
    done = await store.set_account_status(uid, "validated", None, later)
    assert done is not None
    u, event = done
    assert u.validated and u.status == "validated"
    # every worker hears of it on the control channel, and forgets the account's cached sessions
    assert (event.type, event.data, list(event.links)) == (
        "account.changed",
        {"user": uid, "status": "validated"},
        ["control"],
    )
    assert (await store.latest_proof(uid)).decided_at == later  # type: ignore[union-attr]
    assert [h[0] for h in await store.resident_homes()] == [uid]
    head = await store.head_seq()
    assert await store.set_account_status(999, "validated", None, later) is None
    assert await store.head_seq() == head  # nothing written, no seq taken
    done = await store.set_account_status(uid, "suspended", "abus", later + timedelta(hours=1))
    again = await store.user_by_id(uid)
    assert done is not None and done[0] == again and again is not None
    assert (again.status, again.reason, again.validated) == ("suspended", "abus", False)
    assert (await store.latest_proof(uid)).decided_at == later  # type: ignore[union-attr]
    assert await store.resident_homes() == []  # a suspended account is nobody's recipient


async def test_proof_views_are_append_only(store: Store) -> None:
    mod = await author(store, "mod@x.org")
    await store.record_proof_view(mod, 42, 7, T0)
    await store.record_proof_view(mod, 42, None, T0 + timedelta(seconds=1))
    assert await store.proof_views(42) == [(mod, T0), (mod, T0 + timedelta(seconds=1))]
    assert await store.proof_views(43) == []
    assert isinstance(store, (SqliteStore, PostgresStore))
    for statement in ("UPDATE proof_views SET viewer = 0", "DELETE FROM proof_views"):
        with pytest.raises((*INTEGRITY_ERRORS, asyncpg.RaiseError)):
            async with store._write_tx() as tx:
                await tx.execute(statement)
    assert len(await store.proof_views(42)) == 2


async def test_flags_once_per_resident_and_open_until_moderated(store: Store) -> None:
    a, b = await author(store, "a@x.org"), await author(store, "b@x.org")
    alert, _ = await create_alert(store, new_alert(a))
    f = await store.add_flag(alert.id, b, "insultant", T0)
    assert (f.alert_id, f.user_id, f.reason, f.created_at, f.resolved_at) == (alert.id, b, "insultant", T0, None)
    with pytest.raises(DuplicateFlag):
        await store.add_flag(alert.id, b, "encore", T0)
    raced = await asyncio.gather(*(store.add_flag(alert.id, a, "x", T0) for _ in range(4)), return_exceptions=True)
    assert sum(not isinstance(r, BaseException) for r in raced) == 1
    assert all(isinstance(r, DuplicateFlag) for r in raced if isinstance(r, BaseException))
    assert [x.user_id for x in await store.open_flags(10)] == [b, a]
    done = await store.moderate_alert(alert.id, False, "rien à redire", [], T0)
    assert done is not None and done[1] == []  # nothing changed for anyone's stream
    assert await store.open_flags(10) == []


async def test_hiding_an_alert_writes_its_events_on_the_alert_created_channels(store: Store) -> None:
    a = await author(store)
    alert, created = await create_alert(store, new_alert(a, channels=("ops", "s:centre", "s:nord")))
    assert created is not None
    done = await store.moderate_alert(alert.id, True, "propos injurieux", ["s:plage", "s:nord"], T0)
    assert done is not None
    hidden, (updated, removed) = done
    assert hidden.hidden and hidden.hide_reason == "propos injurieux"
    assert updated.type == "alert.updated" and list(updated.links) == ["ops"] and updated.data["hidden"] is True
    assert removed.type == "alert.removed" and sorted(removed.links) == ["s:centre", "s:nord", "s:plage"]
    assert removed.data == alert_staff(hidden) and removed.seq == updated.seq + 1
    assert removed.links["s:centre"] == created.seq  # chained to the channel's previous event
    assert await store.events_after(created.seq) == [updated, removed]
    assert await store.get_alert(alert.id) == hidden
    assert await store.hidden_among([alert.id, alert.id + 1]) == {alert.id}
    assert await store.list_alerts(AlertQuery(visible_only=True)) == []
    assert await store.list_alerts(AlertQuery()) == [hidden]
    again = await store.moderate_alert(alert.id, True, "encore", [], T0)
    assert again is not None and again[1] == []  # already hidden: no event
    restored = await store.moderate_alert(alert.id, False, "erreur", [], T0 + timedelta(minutes=1))
    assert restored is not None
    shown, (event,) = restored
    assert not shown.hidden and shown.hide_reason is None and event.type == "alert.updated"
    assert await store.hidden_among([alert.id]) == set() and await store.hidden_among([]) == set()
    assert await store.moderate_alert(999, True, "x", [], T0) is None


async def test_migration_4_keeps_each_accounts_standing(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Accounts made before migration 4 stay validated (or, if they were
    not, wait as pending), and alerts stay visible."""
    from dispatch.adapters import migrations

    s = make(db_url)
    await s.connect()
    try:
        monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:3])
        assert await s.migrate() == [1, 2, 3]
        assert isinstance(s, (SqliteStore, PostgresStore))
        async with s._write_tx() as tx:
            for email, validated in (("old@x.org", True), ("waiting@x.org", False)):
                await tx.execute(
                    tx.dialect.render(
                        "INSERT INTO users (role, email, password_hash, name, validated, created_at)"
                        " VALUES ('resident', ?, 'h', '', ?, ?)"
                    ),
                    email,
                    validated,
                    tx.dialect.ts_param(T0),
                )
        monkeypatch.undo()
        assert await s.migrate() == ALL_VERSIONS[3:]
        old, waiting = await s.user_by_email("old@x.org"), await s.user_by_email("waiting@x.org")
        assert old is not None and old.status == "validated" and old.validated and old.address is None
        assert waiting is not None and waiting.status == "pending" and not waiting.validated
        alert, _ = await create_alert(s, new_alert(old.id))
        assert not alert.hidden and await s.list_alerts(AlertQuery(visible_only=True)) == [alert]
    finally:
        await s.close()


# -- the outbox (issue 19) ---------------------------------------------------


def sms_row(ref_id: int, user_id: int, kind: str = "reply") -> NewOutbox:
    return NewOutbox(kind, ref_id, user_id, "sms", "+33612345678", "", f"Texte {ref_id} STOP", "info")


async def residents_with_settings(store: Store, n: int, categories: tuple[str, ...] = ()) -> list[int]:
    ids = await store.add_users(
        [
            user(f"o{i}@x.org", home_lat=43.18, home_lon=3.0, home_sector="centre", phone="+33612345678")
            for i in range(n)
        ]
    )
    settings = NotifySettings(("app", "email", "sms"), ("info", "warning", "urgent"), categories)
    for uid in ids:
        await store.put_notify_settings(uid, settings, "+33612345678", True, T0)
    return ids


async def test_outbox_rows_are_claimed_by_one_claimer_each(store: Store, db_url: str) -> None:
    (uid,) = await residents_with_settings(store, 1)
    rows = [sms_row(k, uid) for k in range(40)]
    await store.enqueue(rows, T0)
    await store.enqueue(rows[:5], T0)  # queueing the same messages again writes nothing
    other = make(db_url)  # a second worker: its own connections
    await other.connect()
    try:
        lease = T0 + timedelta(seconds=30)
        a, b = await asyncio.gather(
            store.claim_outbox("sms", 40, "A", T0, lease), other.claim_outbox("sms", 40, "B", T0, lease)
        )
    finally:
        await other.close()
    got = [i.ref_id for i in a] + [i.ref_id for i in b]
    assert sorted(got) == list(range(40))  # every row once, by one of them
    assert {i.ext_id for i in [*a, *b]} == {r.ext_id for r in rows}
    assert all(i.attempts == 1 and i.channel == "sms" and i.dest == "+33612345678" for i in [*a, *b])
    assert await store.claim_outbox("sms", 40, "C", T0, lease) == []  # all leased
    assert await store.claim_outbox("email", 40, "C", T0, lease) == []  # another channel's rows only
    assert await store.outbox_counts("reply", 3) == {"sms": {"queued": 1}}


async def test_an_expired_lease_is_claimed_again_and_only_the_holder_finishes(store: Store) -> None:
    (uid,) = await residents_with_settings(store, 1)
    await store.enqueue([sms_row(1, uid)], T0)
    (first,) = await store.claim_outbox("sms", 10, "A", T0, T0 + timedelta(seconds=30))
    assert await store.claim_outbox("sms", 10, "B", T0 + timedelta(seconds=29), T0 + timedelta(seconds=59)) == []
    # A died: its lease expires and B takes the row, with the same ext_id
    later = T0 + timedelta(seconds=31)
    (again,) = await store.claim_outbox("sms", 10, "B", later, later + timedelta(seconds=30))
    assert (again.id, again.ext_id, again.attempts) == (first.id, first.ext_id, 2)
    await store.finish_outbox("A", [(first.id, "failed", later, None, "late")])  # not A's any more
    assert await store.outbox_counts("reply", 1) == {"sms": {"queued": 1}}
    await store.finish_outbox("B", [(again.id, "sent", later, later, None)])
    assert await store.outbox_counts("reply", 1) == {"sms": {"sent": 1}}
    assert await store.claim_outbox("sms", 10, "C", later + timedelta(hours=1), later + timedelta(hours=2)) == []


async def test_finishing_rows_sent_failed_or_later(store: Store) -> None:
    (uid,) = await residents_with_settings(store, 1)
    await store.enqueue([sms_row(k, uid, "broadcast") for k in (1, 2, 3)], T0)
    claimed = await store.claim_outbox("sms", 10, "A", T0, T0 + timedelta(seconds=30))
    by_ref = {i.ref_id: i for i in claimed}
    retry_at = T0 + timedelta(seconds=60)
    await store.finish_outbox(
        "A",
        [
            (by_ref[1].id, "sent", T0, T0, None),
            (by_ref[2].id, "failed", T0, None, "HTTP 400"),
            (by_ref[3].id, "queued", retry_at, None, "HTTP 503"),
        ],
    )
    assert [await store.outbox_counts("broadcast", k) for k in (1, 2, 3)] == [
        {"sms": {"sent": 1}},
        {"sms": {"failed": 1}},
        {"sms": {"queued": 1}},
    ]
    # the retry is due at next_at, not before, and counts its attempts
    assert await store.claim_outbox("sms", 10, "B", retry_at - timedelta(seconds=1), retry_at) == []
    (retry,) = await store.claim_outbox("sms", 10, "B", retry_at, retry_at + timedelta(seconds=30))
    assert (retry.ref_id, retry.attempts) == (3, 2)


async def test_sms_reports_and_receipts(store: Store) -> None:
    uids = await residents_with_settings(store, 3)
    await store.enqueue([sms_row(7, u, "broadcast") for u in uids], T0)
    items = await store.claim_outbox("sms", 10, "A", T0, T0 + timedelta(seconds=30))
    assert len(items) == 3
    # the gateway's report may come before the worker marks the row sent: it stays delivered
    assert await store.sms_status(items[0].ext_id, "delivered") == ("broadcast", 7)
    await store.finish_outbox("A", [(i.id, "sent", T0, T0, None) for i in items])
    assert await store.sms_status(items[1].ext_id, "failed") == ("broadcast", 7)
    assert await store.sms_status("nobody-sent-this", "delivered") is None
    assert await store.sms_status(items[0].ext_id, "failed") is None  # final already
    assert await store.outbox_counts("broadcast", 7) == {"sms": {"delivered": 1, "failed": 1, "sent": 1}}
    await store.put_app_receipt(7, "w1", 2)
    await store.put_app_receipt(7, "w1", 3)  # added to what that worker stored before
    await store.put_app_receipt(7, "w2", 1)
    assert await store.app_delivered(7) == 6
    assert await store.app_delivered(8) == 0


async def test_a_broadcast_and_an_alert_write_their_outbox_rows_with_them(store: Store) -> None:
    uids = await residents_with_settings(store, 2, categories=("noise",))
    texts = Texts("Sujet", "Courriel", "SMS STOP", "Push")
    fanout = Fanout("broadcast", (*uids, 999_999), "urgent", None, texts)  # an unknown id is nobody
    new = NewBroadcast(uids[0], ("centre",), None, "Crue", "urgent", 2, T0, fanout=fanout)
    b, _ = await store.create_broadcast(new)
    assert await store.outbox_counts("broadcast", b.id) == {"email": {"queued": 2}, "sms": {"queued": 2}}
    assert await store.sms_recipients(uids, "urgent") == 2
    author = await store.add_users([user("author@x.org")])
    nearby = Nearby(500, texts)
    created = await store.create_alert_grouped(new_alert(author[0], nearby=nearby))
    assert created.queued == 4  # the two residents of its sector, by e-mail and SMS
    assert await store.outbox_counts("alert", created.alert.id) == {"email": {"queued": 2}, "sms": {"queued": 2}}
    fire = await store.create_alert_grouped(new_alert(author[0], category="fire", nearby=nearby))
    assert fire.queued == 0 and await store.outbox_counts("alert", fire.alert.id) == {}  # nobody wants fires
    own = await store.create_alert_grouped(new_alert(uids[0], nearby=nearby))
    assert own.queued == 2  # never to its author
    again = await store.create_alert_grouped(new_alert(author[0], nearby=nearby, client_id="k"))
    repeat = await store.create_alert_grouped(new_alert(author[0], nearby=nearby, client_id="k"))
    assert (again.queued, repeat.queued, repeat.events) == (4, 0, [])  # a repeat queues nothing more
    items = await store.claim_outbox("email", 20, "A", T0 + timedelta(seconds=1), T0 + timedelta(seconds=30))
    assert sorted((i.kind, i.ref_id, i.user_id, i.body, i.level) for i in items) == sorted(
        [("broadcast", b.id, u, "Courriel", "urgent") for u in uids]
        + [("alert", created.alert.id, u, "Courriel", "info") for u in uids]
        + [("alert", own.alert.id, uids[1], "Courriel", "info")]
        + [("alert", again.alert.id, u, "Courriel", "info") for u in uids]
    )


async def test_a_nearby_alert_is_queued_for_the_watchers_the_stream_would_reach(store: Store) -> None:
    """Candidates by category, then sector or box, then the stream's rule:
    validated residents only, in its sector or within the radius."""
    ids = await store.add_users(
        [
            user("near@x.org", home_lat=43.1840, home_lon=3.0040, home_sector="bourg"),
            user("sector@x.org", home_lat=43.1900, home_lon=2.9800, home_sector="centre"),
            user("far@x.org", home_lat=43.1600, home_lon=3.1450, home_sector="plage"),
            user("other@x.org", home_lat=43.1840, home_lon=3.0040, home_sector="centre"),
            user("pending@x.org", home_lat=43.1840, home_lon=3.0040, home_sector="centre", validated=False),
            user("edge@x.org", home_lat=43.1837 + 0.0054, home_lon=3.0042, home_sector="bourg"),  # ~600 m
        ]
    )
    for uid, cats in zip(ids, [("fire",), ("fire", "theft"), ("fire",), ("theft",), ("fire",), ("fire",)]):
        await store.put_notify_settings(uid, NotifySettings(("email",), ("info",), cats), None, False, T0)
    (author,) = await store.add_users([user("author@x.org")])
    nearby = Nearby(500, Texts("Sujet", "Courriel", "SMS STOP", "Push"))
    at = {"lat": 43.1837, "lon": 3.0042, "sector": "centre"}
    fire = await store.create_alert_grouped(new_alert(author, category="fire", nearby=nearby, **at))
    items = await store.claim_outbox("email", 20, "A", T0 + timedelta(seconds=1), T0 + timedelta(seconds=30))
    assert (fire.queued, sorted(i.user_id for i in items)) == (2, [ids[0], ids[1]])
    weather = await store.create_alert_grouped(new_alert(author, category="weather", nearby=nearby, **at))
    assert weather.queued == 0
