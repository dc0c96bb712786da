"""The bell wakes a unit's streams only for its unit; unit-less waiters hear every ring."""

from __future__ import annotations

import asyncio

import pytest

from deconfliction.notifications.bell import Bell

pytestmark = pytest.mark.unit


def test_a_ring_wakes_the_named_units_streams_and_the_unit_less_waiters() -> None:
    async def run() -> None:
        bell = Bell()
        rung: list[str] = []
        bell.on_ring(lambda: rung.append("callback"))
        a = bell.waiter("u-a")
        b = bell.waiter("u-b")
        anyone = bell.waiter()
        bell.ring(["u-a", None])
        await asyncio.sleep(0)
        assert (a[1].is_set(), b[1].is_set(), anyone[1].is_set()) == (True, False, True)
        for _, event in (a, b, anyone):
            event.clear()
        bell.ring()  # naming no units: everyone
        await asyncio.sleep(0)
        assert all(event.is_set() for _, event in (a, b, anyone))
        assert rung == ["callback", "callback"]
        for _, event in (a, b, anyone):
            event.clear()
        bell.discard(b)
        bell.discard(b)  # twice is harmless
        bell.ring(["u-b"])
        await asyncio.sleep(0)
        assert (a[1].is_set(), b[1].is_set(), anyone[1].is_set()) == (False, False, True)

    asyncio.run(run())
