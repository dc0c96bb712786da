"""Position reports and checks in the store (SQLite and PostgreSQL): batches are
all or nothing, the latest report is the newest by report time, every check is
recorded."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest

from deconfliction.store import AlreadyExists, Store, StoreError
from tests.support.clock import FIXED_NOW
from tests.support.stores import StoreFactory

pytestmark = pytest.mark.unit


@pytest.fixture
def store(store_factory: StoreFactory) -> Store:
    """A migrated store on each backend (closed by ``store_factory``)."""
    s: Store = store_factory()
    return s


def report(asset_id: str, minutes: float, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "asset_id": asset_id,
        "time": (FIXED_NOW + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z"),
        "lat": 48.5,
        "lon": 35.0,
        "cep_m": 10.0,
        "extra_radius_m": 0.0,
        "speed_kmh": 40.0,
        "course_deg": 90.0,
        "source": "authenticated",
    }
    base.update(extra)
    return base


def latest(store: Store) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["asset_id"], r["source"]): r for r in store.latest_reports()}


# -- reports -----------------------------------------------------------------


def test_a_batch_is_stored_with_one_event(store: Store) -> None:
    batch = [report(f"a{n % 3}", n, lat=48 + n / 100) for n in range(9)]
    assert store.add_reports(batch, "coord-1") == 9
    assert store.count_reports() == 9
    events = store.events()
    assert len(events) == 1
    event = events[0]
    assert (event.kind, event.action, event.object_id, event.actor) == (
        "report",
        "add",
        None,
        "coord-1",
    )
    rows = [dict(zip(event.payload["fields"], row, strict=True)) for row in event.payload["rows"]]
    assert [r["lat"] for r in rows] == [b["lat"] for b in batch]
    assert rows[0]["time"] == "2026-03-01T12:00:00.000000Z"


def test_optional_fields_take_their_defaults(store: Store) -> None:
    store.add_reports(
        [{"asset_id": "a1", "time": FIXED_NOW, "lat": -33.9, "lon": 151.2, "cep_m": 0}], "c1"
    )
    (only,) = store.latest_reports()
    assert only["time"] == "2026-03-01T12:00:00.000000Z"
    assert only["extra_radius_m"] == 0.0
    assert only["speed_kmh"] is None and only["course_deg"] is None
    assert only["source"] == "authenticated"
    assert only["received_at"].endswith("Z")


def test_a_bad_report_mid_batch_rolls_back_the_whole_batch(store: Store) -> None:
    """Item 5,000 of 10,000 breaks a CHECK constraint inside the INSERT."""
    store.add_reports([report("before", 0)], "c1")
    seq, count = store.last_event_seq(), store.count_reports()
    batch = [report(f"a{n}", n / 100) for n in range(10_000)]
    batch[5_000]["lat"] = 95.0  # well-formed, but no latitude
    with pytest.raises(StoreError, match="CHECK constraint"):
        store.add_reports(batch, "c1")
    assert store.count_reports() == count
    assert store.last_event_seq() == seq
    assert list(latest(store)) == [("before", "authenticated")]


def test_a_malformed_report_is_named_and_nothing_is_stored(store: Store) -> None:
    batch = [report("a1", n) for n in range(10)]
    del batch[7]["cep_m"]
    with pytest.raises(StoreError, match=r"report 7: missing 'cep_m'"):
        store.add_reports(batch, "c1")
    batch = [report("a1", 0), report("a1", 1, time="yesterday")]
    with pytest.raises(StoreError, match="report 1: not an RFC 3339 time"):
        store.add_reports(batch, "c1")
    batch = [report("a1", 0, time="2026-03-01T12:00:00")]  # no zone
    with pytest.raises(StoreError, match="report 0: time must carry a zone"):
        store.add_reports(batch, "c1")
    batch = [report("a1", 0, lon=float("nan"))]
    with pytest.raises(StoreError, match="report 0: lon must be a finite number"):
        store.add_reports(batch, "c1")
    batch = [report("a1", 0, source="rumour")]
    with pytest.raises(StoreError, match="CHECK constraint"):
        store.add_reports(batch, "c1")
    assert store.count_reports() == 0
    assert store.last_event_seq() == 0


def test_a_batch_inside_a_failed_transaction_is_rolled_back(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.add_reports([report("a1", n) for n in range(100)], "c1")
        raise RuntimeError("later write failed")
    assert store.count_reports() == 0
    assert list(store.latest_reports()) == []
    assert store.last_event_seq() == 0


def test_latest_is_the_newest_by_report_time_not_by_arrival(store: Store) -> None:
    store.add_reports([report("a1", 10, lat=10.0)], "c1")
    store.add_reports([report("a1", 5, lat=5.0)], "c1")  # arrives later, is older
    assert latest(store)[("a1", "authenticated")]["lat"] == 10.0

    # Within one batch too, whatever the order.
    store.add_reports(
        [report("a2", 3, lat=3.0), report("a2", 9, lat=9.0), report("a2", 1, lat=1.0)], "c1"
    )
    assert latest(store)[("a2", "authenticated")]["lat"] == 9.0

    # A newer one replaces it.
    store.add_reports([report("a1", 11, lat=11.0)], "c1")
    assert latest(store)[("a1", "authenticated")]["lat"] == 11.0
    assert store.count_reports() == 6


def test_latest_is_kept_per_source(store: Store) -> None:
    store.add_reports([report("a1", 10, lat=10.0)], "c1")
    store.add_reports([report("a1", 20, lat=20.0, source="plain")], "udp")
    current = latest(store)
    assert current[("a1", "authenticated")]["lat"] == 10.0
    assert current[("a1", "plain")]["lat"] == 20.0


def test_times_with_other_zones_compare_as_instants(store: Store) -> None:
    # 13:30+02:00 is 11:30Z: older than 12:00Z although its text sorts later.
    store.add_reports([report("a1", 0, lat=1.0)], "c1")
    store.add_reports([report("a1", 0, lat=2.0, time="2026-03-01T13:30:00+02:00")], "c1")
    assert latest(store)[("a1", "authenticated")]["lat"] == 1.0
    # 14:30.5+02:00 is 12:30:00.5Z: newer.
    store.add_reports([report("a1", 0, lat=3.0, time="2026-03-01T14:30:00.5+02:00")], "c1")
    row = latest(store)[("a1", "authenticated")]
    assert row["lat"] == 3.0 and row["time"] == "2026-03-01T12:30:00.500000Z"


def test_on_equal_times_the_later_arrival_wins(store: Store) -> None:
    store.add_reports([report("a1", 0, lat=1.0)], "c1")
    store.add_reports([report("a1", 0, lat=2.0)], "c1")
    assert latest(store)[("a1", "authenticated")]["lat"] == 2.0


def test_an_empty_batch_writes_nothing(store: Store) -> None:
    assert store.add_reports([], "c1") == 0
    assert store.last_event_seq() == 0


def test_ten_thousand_reports_in_one_call_are_fast(store: Store) -> None:
    batch = [report(f"a{n % 500}", n / 60, lat=48 + (n % 100) / 100) for n in range(10_000)]
    start = time.perf_counter()
    assert store.add_reports(batch, "c1") == 10_000
    elapsed = time.perf_counter() - start
    assert store.count_reports() == 10_000
    assert len(latest(store)) == 500
    # ~0.12 s on a 2-core machine, on either backend; generous so that a loaded CI
    # box does not flake.
    assert elapsed < 2.0, f"10,000 reports took {elapsed:.2f} s"


# -- checks ------------------------------------------------------------------

REQUEST = {
    "unit_id": "u1",
    "position": {"lat": 48.5, "lon": 35.0},
    "cep_m": 25.0,
    "observed": {"mobility": "wheeled", "features": ["radar"], "certainty": "probable"},
}
RESULT = {"verdict": "HOLD", "matches": [{"kind": "asset", "id": "a1"}], "match_count": 1}


def test_a_check_is_stored_with_its_event(store: Store) -> None:
    store.add_check("k1", "u1", "blue", REQUEST, RESULT, "token:abc")
    got = store.get_check("k1")
    assert got is not None
    assert got["id"] == "k1" and got["unit_id"] == "u1" and got["party_id"] == "blue"
    assert got["request"] == REQUEST and got["result"] == RESULT
    assert got["created_at"].endswith("Z")
    assert store.get_check("k2") is None
    (event,) = store.events()
    assert (event.kind, event.action, event.object_id, event.actor) == (
        "check",
        "create",
        "k1",
        "token:abc",
    )
    assert event.payload == {
        "unit_id": "u1",
        "party_id": "blue",
        "request": REQUEST,
        "result": RESULT,
    }


def test_a_duplicate_check_id_is_refused_without_an_event(store: Store) -> None:
    store.add_check("k1", "u1", "blue", REQUEST, RESULT, "u1")
    with pytest.raises(AlreadyExists):
        store.add_check("k1", "u2", "green", REQUEST, {"verdict": "NO_KNOWN_MATCH"}, "u2")
    got = store.get_check("k1")
    assert got is not None and got["unit_id"] == "u1" and got["result"] == RESULT
    assert store.count_checks() == 1
    assert store.last_event_seq() == 1


def test_every_check_is_recorded(store: Store) -> None:
    for n in range(500):
        store.add_check(f"k{n}", "u1", "blue", REQUEST, RESULT, "u1")
    assert store.count_checks() == 500
    assert store.last_event_seq() == 500
