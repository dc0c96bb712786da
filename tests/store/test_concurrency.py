"""Concurrent writers on one database stay correct, on both backends.

Several threads write through two store instances at once (as two service
processes would), some writes failing and rolling back, while a reader tails
the event log. Every acknowledged write must be there, the event seqs must be
1..N with no gap and no duplicate, and the tailing reader, which only ever asks
for ``seq > last seen``, must have seen every one of them, in order: a seq that
became visible after a higher one would have been skipped.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from deconfliction.store import AlreadyExists, Store, StoreError
from tests.support.stores import StoreFactory

pytestmark = pytest.mark.unit

THREADS = 8
WRITES = 200  # acknowledged writes per thread
BATCH = 20  # reports per batch


def batch(asset_id: str, n: int) -> list[dict[str, Any]]:
    return [
        {
            "asset_id": asset_id,
            "time": f"2025-03-01T12:{n % 60:02d}:{i:02d}Z",
            "lat": 48.0 + i / 100,
            "lon": 35.0,
            "cep_m": 10.0,
        }
        for i in range(BATCH)
    ]


def writer(store: Store, w: int, acked: list[tuple[str, str]]) -> None:
    """``WRITES`` acknowledged write calls, with failed (rolled-back) ones in between."""
    store.add_check(f"dup-{w}", "u", None, {}, {}, f"thread-{w}")
    acked.append(("check", f"dup-{w}"))
    for n in range(WRITES):
        name = f"w{w}-{n}"
        if n % 4 == 3:
            store.add_reports(batch(name, n), f"thread-{w}")
            acked.append(("report", name))
        elif n % 10 == 5:
            with store.transaction():  # two writes, one unit
                store.create("unit", name, f"p{w}", {"n": n}, f"thread-{w}")
                store.add_check(name, name, f"p{w}", {"n": n}, {"verdict": "HOLD"}, "t")
            acked.append(("unit", name))
            acked.append(("check", name))
        else:
            store.create("asset", name, f"p{w}", {"n": n}, f"thread-{w}")
            acked.append(("asset", name))
        if n % 7 == 0:
            # Failures after the event was appended: nothing may remain, no seq burnt.
            with pytest.raises(AlreadyExists):
                store.add_check(f"dup-{w}", "u", None, {}, {}, "t")
            bad = [*batch(f"bad-{name}", n), {**batch("x", 0)[0], "lat": 99.0}]
            with pytest.raises(StoreError):
                store.add_reports(bad, "t")
            with pytest.raises(RuntimeError), store.transaction():
                store.create("asset", f"gone-{name}", None, {}, "t")
                raise RuntimeError("rolled back")


def tail(store: Store, stop: threading.Event, seen: list[int], problems: list[str]) -> None:
    last = 0
    while True:
        done = stop.is_set()  # read before the query: one more full pass after the end
        for event in store.events(after_seq=last, limit=500):
            if event.seq != last + 1:
                problems.append(f"after seq {last} the log showed {event.seq}")
            last = event.seq
            seen.append(event.seq)
        if done and not store.events(after_seq=last, limit=1):
            return


def test_concurrent_writers_keep_every_write_and_a_gap_free_log(
    store_factory: StoreFactory,
) -> None:
    stores = [store_factory(), store_factory()]  # two "processes" on one database
    acked: list[list[tuple[str, str]]] = [[] for _ in range(THREADS)]
    errors: list[BaseException] = []
    seen: list[int] = []
    problems: list[str] = []
    stop = threading.Event()

    def run(w: int) -> None:
        try:
            writer(stores[w % 2], w, acked[w])
        except BaseException as exc:  # reported below
            errors.append(exc)

    tailer = threading.Thread(target=tail, args=(stores[1], stop, seen, problems))
    tailer.start()
    threads = [threading.Thread(target=run, args=(w,)) for w in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    tailer.join()
    assert errors == []

    writes = [write for per_thread in acked for write in per_thread]
    store = stores[0]
    events = store.events(limit=100_000)
    seqs = [e.seq for e in events]
    assert seqs == list(range(1, len(writes) + 1)), "event seqs are not 1..N"
    assert store.last_event_seq() == len(writes)
    assert seen == seqs, problems[:5]
    assert problems == []

    # Every acknowledged write is there, once, with its own event.
    logged = sorted((e.kind, e.object_id or e.payload["rows"][0][0]) for e in events)
    assert logged == sorted((kind, name) for kind, name in writes)
    latest = {r["asset_id"] for r in store.latest_reports()}
    for kind, name in writes:
        if kind == "report":
            assert name in latest
        elif kind == "check":
            assert store.get_check(name) is not None
        else:
            assert store.get(kind, name) is not None, (kind, name)
    reports = sum(1 for kind, _ in writes if kind == "report")
    assert store.count_reports() == reports * BATCH
    assert store.count("asset") == sum(1 for kind, _ in writes if kind == "asset")
    assert not any(o.id.startswith("gone-") for o in store.iter_all("asset"))


@pytest.mark.parametrize("isolation", ["repeatable read", "serializable"])
def test_a_stricter_server_default_isolation_does_not_break_writers(
    pg_database_url: str, isolation: str
) -> None:
    """The store sets READ COMMITTED itself: under a snapshot taken before the write
    lock, MAX(seq) + 1 would collide."""
    from deconfliction.store import PostgresStore
    from tests.support.stores import with_pg_options

    escaped = isolation.replace(" ", "\\ ")  # options are split at unescaped spaces
    url = with_pg_options(pg_database_url, f"-cdefault_transaction_isolation={escaped}")
    with PostgresStore(url) as store:
        with store.transaction():
            row = store._conn().execute("SHOW default_transaction_isolation").fetchone()
            assert row is not None and row[0] == isolation
        store.migrate()
        errors: list[BaseException] = []

        def run(w: int) -> None:
            try:
                for n in range(50):
                    store.create("asset", f"w{w}-{n}", None, {}, "t")
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert [e.seq for e in store.events(limit=1000)] == list(range(1, 201))


def test_writers_waiting_for_the_lock_do_not_starve_the_pool(pg_database_url: str) -> None:
    """More writer threads than pool connections, each reading a snapshot (a second
    connection) inside its transaction: no deadlock, no pool timeout."""
    from deconfliction.store import PostgresStore

    with PostgresStore(pg_database_url, max_size=3, pool_timeout_s=5) as store:
        store.migrate()
        errors: list[BaseException] = []

        def run(w: int) -> None:
            try:
                for n in range(10):
                    with store.transaction():
                        store.create("asset", f"w{w}-{n}", None, {}, "t")
                        assert sum(1 for _ in store.iter_all("asset")) >= 0
                    assert store.count("asset") >= 1
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(w,)) for w in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert store.count("asset") == 80
        assert [e.seq for e in store.events(limit=1000)] == list(range(1, 81))
