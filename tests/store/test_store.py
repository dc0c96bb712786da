"""The store: registered objects, the event log, transactions, migrations.

Every test taking ``store`` or ``store_factory`` runs on both backends: a real
SQLite file in ``tmp_path`` and a real, fresh PostgreSQL database (see
``tests/conftest.py``); nothing is mocked.
"""

from __future__ import annotations

import random
import sqlite3
import stat
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from deconfliction.domain.model import Party
from deconfliction.store import (
    DATABASE_FILE,
    AlreadyExists,
    NotFound,
    PostgresStore,
    SQLiteStore,
    Store,
    StoreError,
    VersionConflict,
    open_store,
)
from deconfliction.store.migrations import MIGRATIONS
from tests.support.clock import FIXED_NOW
from tests.support.stores import StoreFactory

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = FIXED_NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(store_factory: StoreFactory, clock: Clock) -> Store:
    """A migrated store on each backend (closed by ``store_factory``)."""
    s: Store = store_factory(clock=clock)
    return s


def party(pid: str, name: str = "Blue Force") -> dict[str, Any]:
    return Party(id=pid, name=name, kind="military", contact="hotline 1").model_dump(mode="json")


# -- create / get / update / delete -----------------------------------------


def test_create_then_get_returns_the_document(store: Store) -> None:
    created = store.create("party", "blue", None, party("blue"), "admin-1")
    assert created.version == 1
    assert created.created_at == created.updated_at == FIXED_NOW
    got = store.get("party", "blue")
    assert got == created
    assert got is not None and got.data == party("blue")
    assert store.get("party", "nope") is None
    assert store.get("asset", "blue") is None  # ids are per kind


def test_get_many_reads_the_existing_ones_of_many_ids_at_once(store: Store) -> None:
    with store.transaction():
        for i in range(1200):
            store.create("asset", f"a{i:04d}", "blue", {"callsign": f"C-{i}"}, "c1")
    store.create("party", "a0001", None, party("a0001"), "admin-1")  # another kind
    wanted = [f"a{i:04d}" for i in range(0, 1300, 2)] + ["a0001", "a0001"]
    got = store.get_many("asset", wanted)
    assert sorted(got) == sorted({w for w in wanted if int(w[1:]) < 1200})
    assert got["a0001"] == store.get("asset", "a0001")
    assert store.get_many("asset", []) == {}


def test_update_bumps_version_and_keeps_created_at(store: Store, clock: Clock) -> None:
    store.create("asset", "a1", "blue", {"callsign": "Blue-7"}, "c1")
    clock.advance(60)
    updated = store.update("asset", "a1", "green", {"callsign": "Blue-8"}, "c2")
    assert updated.version == 2
    assert updated.created_at == FIXED_NOW
    assert updated.updated_at == FIXED_NOW + timedelta(seconds=60)
    assert updated.party_id == "green"
    assert store.get("asset", "a1") == updated


def test_update_with_the_expected_version(store: Store) -> None:
    store.create("asset", "a1", "blue", {"v": 1}, "c1")
    assert store.update("asset", "a1", "blue", {"v": 2}, "c1", expected_version=1).version == 2
    with pytest.raises(VersionConflict) as info:
        store.update("asset", "a1", "blue", {"v": 3}, "c1", expected_version=1)
    assert (info.value.expected, info.value.actual) == (1, 2)
    current = store.get("asset", "a1")
    assert current is not None and current.data == {"v": 2} and current.version == 2


def test_update_and_delete_of_a_missing_object_raise_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.update("asset", "ghost", None, {}, "c1")
    with pytest.raises(NotFound):
        store.delete("asset", "ghost", "c1")
    assert store.last_event_seq() == 0


def test_delete(store: Store) -> None:
    store.create("site", "s1", "red-cross", {"kind": "hospital"}, "c1")
    with pytest.raises(VersionConflict):
        store.delete("site", "s1", "c1", expected_version=7)
    store.delete("site", "s1", "c1", expected_version=1)
    assert store.get("site", "s1") is None
    assert store.count("site") == 0
    # The id is free again; the new object starts over at version 1.
    assert store.create("site", "s1", "red-cross", {"kind": "shelter"}, "c1").version == 1


def test_duplicate_id_raises_and_leaves_the_store_unchanged(store: Store) -> None:
    original = store.create("party", "blue", None, party("blue"), "admin-1")
    seq = store.last_event_seq()
    with pytest.raises(AlreadyExists):
        store.create("party", "blue", None, party("blue", "Impostor"), "admin-2")
    assert store.get("party", "blue") == original
    assert store.count("party") == 1
    assert store.last_event_seq() == seq


def test_unknown_kind_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="unknown object kind"):
        store.create("target", "t1", None, {}, "c1")
    with pytest.raises(ValueError):
        store.list("target")


def test_data_must_be_json(store: Store) -> None:
    with pytest.raises(StoreError, match="JSON"):
        store.create("party", "p", None, {"x": object()}, "c1")
    assert store.count("party") == 0


# -- list, pagination, party filter -----------------------------------------


def test_keyset_pagination_visits_every_object_once_in_id_order(store: Store) -> None:
    ids = [f"asset-{n:03d}" for n in range(57)]
    shuffled = ids[:]
    random.Random(7).shuffle(shuffled)
    for obj_id in shuffled:
        store.create("asset", obj_id, "blue", {"id": obj_id}, "c1")
    store.create("unit", "asset-zzz", "blue", {}, "c1")  # another kind: never listed

    seen: list[str] = []
    after: str | None = None
    while page := store.list("asset", after_id=after, limit=10):
        assert len(page) <= 10
        seen.extend(o.id for o in page)
        after = page[-1].id
    assert seen == ids
    assert store.count("asset") == 57
    assert [o.id for o in store.iter_all("asset")] == ids


def test_party_filter(store: Store) -> None:
    for n in range(10):
        store.create("asset", f"a{n}", "blue" if n % 2 else "green", {}, "c1")
    store.create("asset", "orphan", None, {}, "c1")
    assert [o.id for o in store.list("asset", party_ids={"blue"})] == ["a1", "a3", "a5", "a7", "a9"]
    assert len(store.list("asset", party_ids=["blue", "green"])) == 10
    assert store.list("asset", party_ids=[]) == []
    assert len(store.list("asset")) == 11
    page = store.list("asset", party_ids=("green",), after_id="a2", limit=2)
    assert [o.id for o in page] == ["a4", "a6"]


def test_ids_are_ordered_by_their_bytes_on_every_backend(store: Store) -> None:
    """PostgreSQL compares ids with COLLATE "C": the same order as SQLite, whatever the locale."""
    ids = ["a", "B", "b", "Z", "_x", "é", "z", "10", "9", "a-b", "a b", "ab", "A", "Ä", "日本"]
    for obj_id in ids:
        store.create("asset", obj_id, "blue", {}, "c1")
    by_bytes = sorted(ids, key=lambda i: i.encode())
    assert [o.id for o in store.iter_all("asset")] == by_bytes
    seen: list[str] = []
    after: str | None = None
    while page := store.list("asset", after_id=after, limit=4):
        seen.extend(o.id for o in page)
        after = page[-1].id
    assert seen == by_bytes
    assert [o.id for o in store.list("asset", after_id="Z", limit=3)] == ["_x", "a", "a b"]


def test_abandoned_iterations_give_their_connections_back(store: Store) -> None:
    for n in range(5):
        store.create("asset", f"a{n}", "blue", {}, "c1")
    for _ in range(30):  # more than the pool holds
        iterator = store.iter_all("asset")
        assert next(iterator).id == "a0"
        del iterator  # closed by the garbage collector, mid-stream
    assert store.count("asset") == 5
    reports = store.latest_reports()
    assert list(reports) == []


def test_list_limit_must_be_positive(store: Store) -> None:
    with pytest.raises(ValueError):
        store.list("asset", limit=0)


def test_iter_all_reads_one_snapshot(store: Store) -> None:
    for n in range(1200):  # more than one fetch of the underlying cursor
        store.create("asset", f"a{n:04d}", "blue", {}, "c1")
    iterator = store.iter_all("asset")
    first = next(iterator)
    # Writes made while iterating are not seen, and do not block.
    store.create("asset", "zzzz", "blue", {}, "c1")
    store.delete("asset", "a1100", "c1")
    rest = [o.id for o in iterator]
    assert first.id == "a0000"
    assert len(rest) == 1199
    assert "zzzz" not in rest and "a1100" in rest


# -- the event log -----------------------------------------------------------


def test_every_write_appends_one_event(store: Store, clock: Clock) -> None:
    store.create("party", "blue", None, party("blue"), "admin-1")
    clock.advance(1)
    store.create("asset", "a1", "blue", {"callsign": "Blue-7"}, "coord-1")
    store.update("asset", "a1", "blue", {"callsign": "Blue-8"}, "coord-1")
    store.delete("asset", "a1", "coord-2")
    events = store.events()
    assert [(e.seq, e.kind, e.action, e.object_id, e.actor) for e in events] == [
        (1, "party", "create", "blue", "admin-1"),
        (2, "asset", "create", "a1", "coord-1"),
        (3, "asset", "update", "a1", "coord-1"),
        (4, "asset", "delete", "a1", "coord-2"),
    ]
    assert events[0].at == FIXED_NOW and events[1].at == FIXED_NOW + timedelta(seconds=1)
    assert events[2].payload == {"party_id": "blue", "version": 2, "data": {"callsign": "Blue-8"}}
    assert events[3].payload == {"version": 2}
    assert all(e.hash is not None and len(e.hash) == 64 for e in events)  # audit chain
    assert store.events(after_seq=2, limit=1)[0].seq == 3
    assert store.events(after_seq=4) == []
    assert store.last_event_seq() == 4


def test_events_can_be_filtered_by_kind(store: Store) -> None:
    """What the follower reads (``service/follow.py``): only the kinds asked for, in order,
    paged as without a filter; an empty set of kinds reads nothing."""
    store.create("party", "blue", None, party("blue"), "admin-1")
    store.create("unit", "u1", "blue", {}, "admin-1")
    store.add_token("t1", "hash-1", "operator", "u1", "blue", None, "admin-1")
    store.create("asset", "a1", "blue", {"callsign": "Blue-7"}, "coord-1")
    store.delete("asset", "a1", "coord-1")
    everything = store.events()
    assert [e.kind for e in everything] == ["party", "unit", "token", "asset", "asset"]
    wanted = ("party", "unit", "asset", "movement")
    kept = store.events(kinds=wanted)
    assert kept == [e for e in everything if e.kind in wanted]
    assert [e.seq for e in store.events(after_seq=1, limit=2, kinds=wanted)] == [2, 4]
    assert store.events(after_seq=3, kinds=["token"]) == []
    assert store.events(kinds=()) == []


def test_state_can_be_rebuilt_from_the_event_log(store: Store) -> None:
    rng = random.Random(3)
    for step in range(300):
        obj_id = f"a{rng.randrange(40)}"
        current = store.get("asset", obj_id)
        if current is None:
            store.create("asset", obj_id, rng.choice(["blue", "green"]), {"step": step}, "c")
        elif rng.random() < 0.3:
            store.delete("asset", obj_id, "c")
        else:
            store.update("asset", obj_id, current.party_id, {"step": step}, "c")

    rebuilt: dict[str, tuple[str | None, int, dict[str, Any]]] = {}
    for event in store.events(limit=10_000):
        if event.action == "delete":
            del rebuilt[event.object_id or ""]
        else:
            p = event.payload
            rebuilt[event.object_id or ""] = (p["party_id"], p["version"], p["data"])
    assert rebuilt == {o.id: (o.party_id, o.version, o.data) for o in store.iter_all("asset")}
    assert store.last_event_seq() == 300


def test_a_failed_transaction_leaves_neither_state_nor_events(store: Store) -> None:
    store.create("party", "blue", None, party("blue"), "admin-1")
    with pytest.raises(RuntimeError), store.transaction():
        store.create("unit", "u1", "blue", {}, "admin-1")
        store.update("party", "blue", None, party("blue", "Renamed"), "admin-1")
        raise RuntimeError("the outbox write failed")
    assert store.get("unit", "u1") is None
    got = store.get("party", "blue")
    assert got is not None and got.version == 1 and got.data["name"] == "Blue Force"
    assert store.last_event_seq() == 1


def test_transactions_nest_as_savepoints(store: Store) -> None:
    with store.transaction():
        store.create("unit", "u1", "blue", {}, "a")
        with pytest.raises(AlreadyExists), store.transaction():
            store.create("unit", "u2", "blue", {}, "a")
            store.create("unit", "u1", "blue", {}, "a")  # fails: undoes u2 only
        store.create("unit", "u3", "blue", {}, "a")
    assert [o.id for o in store.list("unit")] == ["u1", "u3"]
    assert [e.object_id for e in store.events()] == ["u1", "u3"]


def test_a_transaction_is_invisible_to_other_threads_until_committed(store: Store) -> None:
    """Writers commit pairs; readers on other threads never see half a pair."""
    stop = threading.Event()
    odd: list[int] = []

    def writer() -> None:
        for n in range(150):
            with store.transaction():
                store.create("unit", f"u{n}-a", "blue", {}, "w")
                store.create("unit", f"u{n}-b", "blue", {}, "w")
        stop.set()

    def reader() -> None:
        while not stop.is_set():
            count = store.count("unit")
            if count % 2:
                odd.append(count)

    threads = [threading.Thread(target=writer)] + [
        threading.Thread(target=reader) for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert odd == []
    assert store.count("unit") == 300
    assert store.last_event_seq() == 300


def test_concurrent_writers_from_many_threads(store: Store) -> None:
    errors: list[BaseException] = []

    def work(w: int) -> None:
        try:
            for n in range(100):
                store.create("asset", f"w{w}-{n}", f"p{w}", {"n": n}, f"thread-{w}")
                if n % 10 == 0:
                    store.update("asset", f"w{w}-{n}", f"p{w}", {"n": -n}, f"thread-{w}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.count("asset") == 800
    assert store.last_event_seq() == 880
    assert [e.seq for e in store.events(limit=10_000)] == list(range(1, 881))


# -- files, reopening, migrations -------------------------------------------


def test_reopening_the_database_finds_everything(store_factory: StoreFactory) -> None:
    where = (store_factory.data_dir, store_factory.database_url)
    with open_store(*where) as first:
        first.create("party", "blue", None, party("blue"), "admin-1")
        first.update("party", "blue", None, party("blue", "Blue Coalition"), "admin-1")
        first.add_reports(
            [{"asset_id": "a1", "time": "2026-03-01T11:00:00Z", "lat": 1, "lon": 2, "cep_m": 5}],
            "c1",
        )
        first.add_check("k1", "u1", "blue", {"cep_m": 5}, {"verdict": "HOLD"}, "u1")
        events = first.events()
    with open_store(*where) as second:
        got = second.get("party", "blue")
        assert got is not None and got.version == 2 and got.data["name"] == "Blue Coalition"
        assert second.count_reports() == 1
        assert [r["asset_id"] for r in second.latest_reports()] == ["a1"]
        check = second.get_check("k1")
        assert check is not None and check["result"] == {"verdict": "HOLD"}
        assert second.events() == events


def schema_of(factory: StoreFactory) -> list[tuple[Any, ...]]:
    """The tables, columns (with collations) and indexes of the database."""
    if factory.backend == "sqlite":
        return factory.raw(
            "SELECT sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    return factory.raw(
        "SELECT table_name, column_name, data_type, collation_name, is_nullable "
        "FROM information_schema.columns WHERE table_schema = current_schema() "
        "ORDER BY 1, 2"
    ) + factory.raw(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY 1"
    )


def test_migrate_twice_is_a_no_op(store_factory: StoreFactory) -> None:
    store = store_factory(migrate=False)
    assert store.schema_version() == 0
    store.migrate()
    assert store.schema_version() == len(MIGRATIONS)
    store.create("party", "blue", None, party("blue"), "admin-1")
    before = store_factory.raw("SELECT * FROM schema_migrations")
    schema = schema_of(store_factory)
    store.migrate()
    store.migrate()
    store.close()
    # Migrates again on open.
    with open_store(store_factory.data_dir, store_factory.database_url) as reopened:
        assert reopened.count("party") == 1
        assert reopened.last_event_seq() == 1
    assert store_factory.raw("SELECT * FROM schema_migrations") == before
    assert schema_of(store_factory) == schema
    assert len(before) == len(MIGRATIONS)


def test_an_edited_or_unknown_migration_is_refused(store_factory: StoreFactory) -> None:
    where = (store_factory.data_dir, store_factory.database_url)
    dialect = "sqlite" if store_factory.backend == "sqlite" else "postgresql"
    open_store(*where).close()
    store_factory.raw("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
    with pytest.raises(StoreError, match="differs"):
        open_store(*where)
    store_factory.raw(
        "UPDATE schema_migrations SET checksum = ? WHERE version = 1",
        (MIGRATIONS[0].checksum(dialect),),
    )
    store_factory.raw(
        "INSERT INTO schema_migrations VALUES (999, 'from the future', 'x', '2030-01-01')"
    )
    with pytest.raises(StoreError, match="newer than this software"):
        open_store(*where)


def test_migrations_render_for_both_dialects() -> None:
    for migration in MIGRATIONS:
        sqlite_sql = " ".join(migration.render("sqlite"))
        pg_sql = " ".join(migration.render("postgresql"))
        raw = " ".join(migration.statements)
        assert "{" not in sqlite_sql and "{" not in pg_sql
        assert " REAL" not in pg_sql
        if "{float}" in raw:
            assert "DOUBLE PRECISION" in pg_sql
        if "{serial_pk}" in raw:
            assert "GENERATED BY DEFAULT AS IDENTITY" in pg_sql
        if "{key_text}" in raw:
            assert 'COLLATE "C"' in pg_sql and "COLLATE" not in sqlite_sql


def test_released_sqlite_migrations_are_unchanged() -> None:
    """Databases in the field recorded these checksums; a changed one would refuse to open."""
    assert MIGRATIONS[0].checksum("sqlite") == (
        "f758bb6a8d9060ce631bf6eed45f9e791abe43269b29c5099e40b996a2d11e34"
    )


def test_the_file_is_private_and_in_wal_mode(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh" / "data"
    with open_store(data_dir):
        pass
    path = data_dir / DATABASE_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.parametrize(("durability", "level"), [("normal", 1), ("full", 2)])
def test_durability_setting(tmp_path: Path, durability: Any, level: int) -> None:
    store = SQLiteStore(tmp_path / DATABASE_FILE, durability=durability)
    try:
        assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == level
        assert store._conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert store._conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0
    finally:
        store.close()
    with pytest.raises(ValueError):
        SQLiteStore(tmp_path / DATABASE_FILE, durability="sometimes")  # type: ignore[arg-type]


@pytest.mark.parametrize("durability", ["normal", "full"])
def test_postgres_session_settings(pg_database_url: str, durability: Any) -> None:
    with PostgresStore(pg_database_url, durability=durability) as store:
        store.migrate()
        with store.transaction():
            conn = store._conn()
            row = conn.execute("SHOW transaction_isolation").fetchone()
            assert row is not None and row[0] == "read committed"
            row = conn.execute("SHOW synchronous_commit").fetchone()
            # "full" forces it on; "normal" keeps the server's default, on here.
            assert row is not None and row[0] == "on"
            row = conn.execute("SELECT current_setting('application_name')").fetchone()
            assert row is not None and row[0] == "deconfliction"
    with pytest.raises(ValueError):
        PostgresStore(pg_database_url, durability="sometimes")  # type: ignore[arg-type]


def test_open_store_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    absolute = tmp_path / "elsewhere" / "x.sqlite3"
    with open_store(None, f"sqlite:///{absolute}") as s:
        assert isinstance(s, SQLiteStore) and s.path == absolute
    monkeypatch.chdir(tmp_path)
    with open_store(None, "sqlite:///rel/y.sqlite3") as s:
        assert isinstance(s, SQLiteStore) and s.path == Path("rel/y.sqlite3")
    assert (tmp_path / "rel" / "y.sqlite3").exists()
    with open_store(None, None) as s:  # the CLI's default data dir
        assert isinstance(s, SQLiteStore) and s.path == Path("data") / DATABASE_FILE
    with pytest.raises(ValueError, match="scheme"):
        open_store(tmp_path, "mysql://localhost/x")
    with pytest.raises(ValueError, match="SQLite URL"):
        open_store(tmp_path, "sqlite://host/x")


def test_open_store_postgresql_urls(pg_database_url: str, tmp_path: Path) -> None:
    scheme, rest = pg_database_url.split("://", 1)
    assert scheme == "postgresql"
    for url in (pg_database_url, f"postgres://{rest}", f"postgresql+psycopg://{rest}"):
        with open_store(tmp_path, url) as s:
            assert isinstance(s, PostgresStore)
            assert s.schema_version() == len(MIGRATIONS)
            assert s.url == pg_database_url
    assert list(tmp_path.iterdir()) == []  # nothing written to the data directory


def test_an_unreachable_postgresql_is_a_clear_error_without_the_password() -> None:
    with pytest.raises(StoreError, match="cannot connect to PostgreSQL at") as info:
        open_store(None, "postgresql://someone:hunter2@127.0.0.1:1/nowhere")
    assert "hunter2" not in str(info.value) and "someone:***@" in str(info.value)


def test_a_closed_store_refuses_work(store_factory: StoreFactory) -> None:
    store: Store = store_factory()
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        store.get("party", "blue")
    with pytest.raises(StoreError, match="closed"):
        store.create("party", "blue", None, party("blue"), "a")
    with pytest.raises(StoreError, match="closed"):
        list(store.iter_all("party"))


def test_driver_errors_become_store_errors(store_factory: StoreFactory) -> None:
    store = store_factory(migrate=False)  # no tables
    missing = "no such table|does not exist"
    with pytest.raises(StoreError, match=missing):
        store.create("party", "blue", None, party("blue"), "a")
    with pytest.raises(StoreError, match=missing):
        store.count("party")
    with pytest.raises(StoreError, match=missing):
        list(store.latest_reports())
    # The store is still usable after the failures.
    store.migrate()
    assert store.create("party", "blue", None, party("blue"), "a").version == 1
