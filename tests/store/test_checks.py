"""Checks recorded in groups (``Store.add_checks``), on both backends: each check keeps its
own event, seq and chain entry; a group is all or nothing; the payload is put together
from the texts already serialised, byte for byte what serialising the dict would give."""

from __future__ import annotations

import orjson
import pytest

from deconfliction.audit.verify import verify_store
from deconfliction.store import AlreadyExists, CheckRecord, Store
from deconfliction.store.checks import check_payload
from tests.support.stores import StoreFactory

pytestmark = pytest.mark.unit


@pytest.fixture
def store(store_factory: StoreFactory) -> Store:
    s: Store = store_factory()
    return s


def record(check_id: str, unit: str = "u1", party: str | None = "blue") -> CheckRecord:
    request = {"unit_id": unit, "position": {"lat": 48.1, "lon": 35.25}, "cep_m": 50.0}
    result = {"id": check_id, "verdict": "HOLD", "matches": [{"id": "a1", "distance_m": 1.5}]}
    return CheckRecord(
        check_id, unit, party, orjson.dumps(request).decode(), orjson.dumps(result).decode(), unit
    )


def test_a_group_is_one_transaction_and_each_check_its_own_event(store: Store) -> None:
    store.create("party", "blue", "blue", {"id": "blue"}, "admin")
    seqs = store.add_checks([record(f"k{i}") for i in range(5)])
    assert seqs == [2, 3, 4, 5, 6]
    events = store.events(kinds=["check"])
    assert [(e.seq, e.object_id, e.action) for e in events] == [
        (2 + i, f"k{i}", "create") for i in range(5)
    ]
    for i, event in enumerate(events):
        assert event.payload == {
            "unit_id": "u1",
            "party_id": "blue",
            "request": orjson.loads(record(f"k{i}").request),
            "result": orjson.loads(record(f"k{i}").result),
        }
        check = store.get_check(f"k{i}")
        assert check is not None and check["result"]["id"] == f"k{i}"
    report = verify_store(store)
    assert report.problem is None and report.count == 6
    assert store.last_write_lock_s() > 0


@pytest.mark.parametrize("party", ["blue", None, 'we"ird\\party'])
def test_the_payload_is_the_dict_as_orjson_writes_it(party: str | None) -> None:
    rec = record("k1", unit="ünit \u2028", party=party)
    expected = orjson.dumps(
        {
            "unit_id": rec.unit_id,
            "party_id": party,
            "request": orjson.loads(rec.request),
            "result": orjson.loads(rec.result),
        }
    ).decode()
    assert check_payload(rec) == expected


def test_a_taken_id_fails_the_whole_group_and_leaves_no_trace(store: Store) -> None:
    store.add_checks([record("k1")])
    before = store.last_event_seq()
    with pytest.raises(AlreadyExists, match="k1"):
        store.add_checks([record("k2"), record("k1"), record("k3")])
    with pytest.raises(AlreadyExists, match="k4"):
        store.add_checks([record("k4"), record("k4")])
    assert store.last_event_seq() == before
    assert store.count_checks() == 1 and store.get_check("k2") is None
    assert store.add_checks([record("k2")]) == [before + 1]  # no gap
    assert verify_store(store).problem is None


def test_a_single_check_through_add_check_is_unchanged(store: Store) -> None:
    store.add_check("k1", "u1", "blue", {"cep_m": 5}, {"verdict": "HOLD"}, "u1")
    with pytest.raises(AlreadyExists):
        store.add_check("k1", "u1", "blue", {"cep_m": 5}, {"verdict": "HOLD"}, "u1")
    (event,) = store.events(kinds=["check"])
    assert event.payload == {
        "unit_id": "u1",
        "party_id": "blue",
        "request": {"cep_m": 5},
        "result": {"verdict": "HOLD"},
    }
    assert store.add_checks([]) == []
