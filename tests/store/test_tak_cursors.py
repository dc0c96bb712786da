"""TAK cursors at the store, on both backends (issue 26, item 3): a certificate's cursor is
stored, only moves forward (two gateways on one database share it), survives reopening,
goes with a deleted unit, a revoked certificate, and a long silence. docs/design/cot.md,
"Cursors that survive a restart"."""

from __future__ import annotations

import pytest

from deconfliction.store import Store
from tests.support.clock import FIXED_NOW_STORED
from tests.support.stores import StoreFactory

pytestmark = pytest.mark.unit

AT = FIXED_NOW_STORED
LATER = "2026-03-02T12:00:00.000000Z"


def test_a_cursor_is_stored_moves_only_forward_and_survives_reopening(
    store_factory: StoreFactory,
) -> None:
    store: Store = store_factory()
    assert store.tak_cursor("0a1b") is None
    store.save_tak_cursors({"0a1b": ("a-drones", 7), "0c2d": ("b-team", 3)}, AT)
    assert store.tak_cursor("0a1b") == 7
    store.save_tak_cursors({"0a1b": ("a-drones", 5), "0c2d": ("b-team", 9)}, LATER)
    assert store.tak_cursor("0a1b") == 7  # an older write (a slower gateway) never moves it back
    assert store.tak_cursor("0c2d") == 9
    store.save_tak_cursors({}, LATER)  # nothing to write: no transaction at all

    other: Store = store_factory()  # another process (a second gateway) on the same database
    assert other.tak_cursor("0a1b") == 7
    other.save_tak_cursors({"0a1b": ("a-drones", 12)}, LATER)
    assert store.tak_cursor("0a1b") == 12


def test_no_event_is_written_for_a_cursor(store_factory: StoreFactory) -> None:
    store: Store = store_factory()
    before = store.last_event_seq()
    store.save_tak_cursors({"0a1b": ("a-drones", 7)}, AT)
    store.drop_tak_cursors(["0a1b"])
    assert store.last_event_seq() == before  # bookkeeping, not the audit chain


def test_revoked_certificates_and_silent_ones_are_forgotten(store_factory: StoreFactory) -> None:
    store: Store = store_factory()
    store.save_tak_cursors({"01": ("a-drones", 1), "02": ("a-drones", 2)}, AT)
    store.save_tak_cursors({"03": ("b-team", 3)}, LATER)
    assert store.drop_tak_cursors(["01", "ff"]) == 1
    assert store.tak_cursor("01") is None and store.tak_cursor("02") == 2
    assert store.purge_tak_cursors(LATER) == 1  # "02" last moved before LATER
    assert store.tak_cursor("02") is None and store.tak_cursor("03") == 3


def test_deleting_a_unit_drops_its_certificates_cursors(store_factory: StoreFactory) -> None:
    store: Store = store_factory()
    for unit in ("w-team", "w-other"):
        store.create("unit", unit, "whiskey", {"id": unit, "party_id": "whiskey"}, "test")
    store.save_tak_cursors({"01": ("w-team", 4), "02": ("w-other", 5)}, AT)
    store.delete("unit", "w-team", "test")
    assert store.tak_cursor("01") is None
    assert store.tak_cursor("02") == 5
