"""The gateway's cursors per certificate (``tak/cursors.py``) over a real store, both
backends: moved in memory, written in batches (a time, a count, a disconnect), never back,
forgotten when revoked, and kept for the next write when a write fails. The stable GeoChat
message ids that make a re-sent entry the same event (``tak/outbound.py``)."""

from __future__ import annotations

from typing import Any

import pytest

from deconfliction.store.base import TakCursor
from deconfliction.tak.cursors import Cursors
from deconfliction.tak.outbound import message_id
from tests.support.stores import StoreFactory

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_moves_are_written_in_batches_by_time_count_or_disconnect(
    store_factory: StoreFactory,
) -> None:
    store = store_factory()
    clock = Clock()
    cursors = Cursors(store, save_every_s=1.0, save_after=3, clock=clock)
    cursors.moved("01", "a-drones", 5, "ANDROID-1", "DRONES-1")
    assert not cursors.due() and store.tak_cursor("01") is None  # memory only
    assert cursors.get("01") == TakCursor("a-drones", 5, "ANDROID-1", "DRONES-1")
    clock.now = 1.0
    assert cursors.due()
    assert cursors.save() == 1
    assert store.tak_cursor("01") == TakCursor("a-drones", 5, "ANDROID-1", "DRONES-1")
    assert not cursors.due()

    for seq in (6, 7, 8):  # three deliveries within the second: the count makes it due
        cursors.moved("01", "a-drones", seq, "ANDROID-1", "DRONES-1")
    assert cursors.due()
    cursors.save()
    cursors.moved("01", "a-drones", 4, "ANDROID-1", "DRONES-1")  # never back
    cursors.moved("01", "a-drones", 9, "ANDROID-1", "DRONES-1")
    assert not cursors.due()
    cursors.save_soon()  # a client disconnected
    assert cursors.due()
    cursors.save()
    assert store.tak_cursor("01") == TakCursor("a-drones", 9, "ANDROID-1", "DRONES-1")


def test_a_restarted_gateway_reads_the_stored_cursor_and_takes_the_further(
    store_factory: StoreFactory,
) -> None:
    store = store_factory()
    store.save_tak_cursors({"01": TakCursor("a-drones", 20, "ANDROID-1", "DRONES-1")}, "x")
    cursors = Cursors(store)  # a new process
    assert cursors.get("01") == TakCursor("a-drones", 20, "ANDROID-1", "DRONES-1")
    cursors.moved("01", "a-drones", 25, "ANDROID-1", "DRONES-1")
    store.save_tak_cursors({"01": TakCursor("a-drones", 30, "ANDROID-1", "DRONES-1")}, "y")
    assert cursors.get("01").seq == 30  # type: ignore[union-attr]  # another node went further


def test_a_revoked_certificate_is_forgotten_and_never_written_again(
    store_factory: StoreFactory,
) -> None:
    store = store_factory()
    cursors = Cursors(store)
    cursors.moved("01", "a-drones", 5, None, None)
    cursors.save()
    cursors.revoked("01")
    cursors.moved("01", "a-drones", 6, None, None)  # a late drain on the closing connection
    assert cursors.get("01") is None and cursors.due()
    cursors.save()
    assert store.tak_cursor("01") is None


def test_a_failed_write_is_kept_for_the_next(store_factory: StoreFactory) -> None:
    store = store_factory()
    cursors = Cursors(store)
    cursors.moved("01", "a-drones", 5, None, None)
    real = store.save_tak_cursors

    def away(*args: Any) -> None:
        raise OSError("the database is away")

    store.save_tak_cursors = away
    with pytest.raises(OSError):
        cursors.save()
    store.save_tak_cursors = real
    assert cursors.save() == 1
    assert store.tak_cursor("01") == TakCursor("a-drones", 5)


def test_a_notification_entry_keeps_its_message_id_whenever_it_is_sent() -> None:
    assert message_id("ntf_1", "created", 12) == message_id("ntf_1", "created", None)
    assert message_id("ntf_1", "answered", 40) == "ntf_1.answered"
    assert message_id("ntf_1", "repeated", 41) != message_id("ntf_1", "repeated", 57)
