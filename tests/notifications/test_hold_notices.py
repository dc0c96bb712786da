"""The de-duplication window of ``hold_on_your_asset`` notices (notifications/hold_notices.py)."""

from __future__ import annotations

import pytest

from deconfliction.notifications.hold_notices import HoldNoticeWindow

pytestmark = pytest.mark.unit


def test_an_asset_is_told_once_per_asking_party_within_the_window() -> None:
    window = HoldNoticeWindow(600.0)
    assert window.due(["a1", "a2"], "alpha", 1000.0) == ["a1", "a2"]
    window.told(["a1"], "alpha", 1000.0)
    assert window.due(["a1", "a2"], "alpha", 1599.0) == ["a2"]
    # Another asking party's checks are told on their own: one party cannot mute another.
    assert window.due(["a1"], "charlie", 1001.0) == ["a1"]
    # Once the window has passed, the owner is told again.
    assert window.due(["a1"], "alpha", 1600.0) == ["a1"]


def test_a_window_of_zero_tells_every_check() -> None:
    window = HoldNoticeWindow(0.0)
    window.told(["a1"], "alpha", 1000.0)
    assert window.due(["a1"], "alpha", 1000.0) == ["a1"]


def test_old_entries_are_swept_so_memory_stays_bounded() -> None:
    window = HoldNoticeWindow(10.0)
    for n in range(30_000):
        window.told([f"a{n}"], "alpha", float(n))
        assert len(window) <= 10_001
    assert window.due(["a29999"], "alpha", 30_000.0) == []  # the recent ones are kept


def test_a_window_full_of_young_entries_is_not_swept_at_every_notice() -> None:
    window = HoldNoticeWindow(1e9)
    for n in range(25_000):
        window.told([f"a{n}"], "alpha", float(n))
    assert len(window) == 25_000  # all young: nothing to forget
    assert window._sweep_at >= 2 * 10_001  # the next sweep waits until it has doubled


def test_a_rolled_back_notice_is_forgotten() -> None:
    window = HoldNoticeWindow(600.0)
    window.told(["a1"], "alpha", 1000.0)
    before = window.told(["a1", "a2"], "alpha", 1300.0)
    window.restore(before)
    assert window.due(["a1", "a2"], "alpha", 1500.0) == ["a2"]  # a2 never told
    assert window.due(["a1"], "alpha", 1650.0) == ["a1"]  # told at 1000 s, not 1300 s
