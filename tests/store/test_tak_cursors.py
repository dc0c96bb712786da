"""TAK cursors at the store, on both backends (issue 26, item 3): a certificate's cursor is
stored with the device it addressed, only moves forward (two gateways on one database share
it), survives reopening, goes with a deleted unit, a revoked certificate, and a long
silence. docs/design/cot.md, "Cursors that survive a restart"."""

from __future__ import annotations

import pytest

from deconfliction.store import Store
from deconfliction.store.base import TakCursor
from tests.support.clock import FIXED_NOW_STORED
from tests.support.stores import StoreFactory

pytestmark = pytest.mark.unit

AT = FIXED_NOW_STORED
LATER = "2026-03-02T12:00:00.000000Z"


def _seq(store: Store, cert_id: str) -> int | None:
    cursor = store.tak_cursor(cert_id)
    return None if cursor is None else cursor.seq


def test_a_cursor_is_stored_moves_only_forward_and_survives_reopening(
    store_factory: StoreFactory,
) -> None:
    store: Store = store_factory()
    assert store.tak_cursor("0a1b") is None
    store.save_tak_cursors({"0a1b": TakCursor("a-drones", 7), "0c2d": TakCursor("b-team", 3)}, AT)
    assert _seq(store, "0a1b") == 7
    store.save_tak_cursors(
        {"0a1b": TakCursor("a-drones", 5), "0c2d": TakCursor("b-team", 9)}, LATER
    )
    assert _seq(store, "0a1b") == 7  # an older write (a slower gateway) never moves it back
    assert _seq(store, "0c2d") == 9
    store.save_tak_cursors({}, LATER)  # nothing to write: no transaction at all

    store.save_tak_cursors({"0c2d": TakCursor("b-team", 9, "ANDROID-b1", "BRAVO-1")}, LATER)
    assert store.tak_cursor("0c2d") == TakCursor("b-team", 9, "ANDROID-b1", "BRAVO-1")

    other: Store = store_factory()  # another process (a second gateway) on the same database
    assert _seq(other, "0a1b") == 7
    other.save_tak_cursors({"0a1b": TakCursor("a-drones", 12)}, LATER)
    assert _seq(store, "0a1b") == 12


def test_no_event_is_written_for_a_cursor(store_factory: StoreFactory) -> None:
    store: Store = store_factory()
    before = store.last_event_seq()
    store.save_tak_cursors({"0a1b": TakCursor("a-drones", 7)}, AT)
    store.drop_tak_cursors(["0a1b"])
    assert store.last_event_seq() == before  # bookkeeping, not the audit chain


def test_revoked_certificates_and_silent_ones_are_forgotten(store_factory: StoreFactory) -> None:
    store: Store = store_factory()
    store.save_tak_cursors({"01": TakCursor("a-drones", 1), "02": TakCursor("a-drones", 2)}, AT)
    store.save_tak_cursors({"03": TakCursor("b-team", 3)}, LATER)
    assert store.drop_tak_cursors(["01", "ff"]) == 1
    assert store.tak_cursor("01") is None and _seq(store, "02") == 2
    assert store.purge_tak_cursors(LATER) == 1  # "02" last moved before LATER
    assert store.tak_cursor("02") is None and _seq(store, "03") == 3


def test_deleting_a_unit_drops_its_certificates_cursors(store_factory: StoreFactory) -> None:
    store: Store = store_factory()
    for unit in ("w-team", "w-other"):
        store.create("unit", unit, "whiskey", {"id": unit, "party_id": "whiskey"}, "test")
    store.save_tak_cursors({"01": TakCursor("w-team", 4), "02": TakCursor("w-other", 5)}, AT)
    store.delete("unit", "w-team", "test")
    assert store.tak_cursor("01") is None
    assert _seq(store, "02") == 5
