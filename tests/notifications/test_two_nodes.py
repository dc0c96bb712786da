"""Two servers on one PostgreSQL database plan notifications as one: a unit is briefed on a
type once, whichever node planned the arrival (``notifications/briefing.py``, "a briefing
another node opened"; ``service/follow.py`` tells the planner another node plans).

Before: the follower read only the kinds that change the engine, so a node never saw that
another one planned notifications, never looked in the store before opening a briefing, and
the second arrival of a type planned on the other node gave the unit a second briefing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import backends
from tests.support.backends import DATABASE_URL_ENV
from tests.support.live import Server
from tests.support.notification_world import INTO_A, World, bearer, of
from tests.support.world import asset, now_iso

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        backends.backend() != "postgres",
        reason="several servers share one PostgreSQL database; a SQLite file has one server",
    ),
]

FOLLOW_DEADLINE_S = 60.0


@pytest.fixture
def second_node(data_dir: Path, tmp_path: Path, world: World) -> Iterator[Server]:
    """A second server on the ``world``'s database, with a data directory of its own."""
    url = backends.database_url(data_dir)
    assert url is not None
    node = Server(tmp_path / "node-2", env={DATABASE_URL_ENV: url})
    node.start()
    try:
        yield node
    finally:
        node.stop()


def wait_until_followed(node: Server, world: World, movement_id: str, asset_id: str) -> None:
    """Until ``node``'s engine has the movement (a check on its route matches it, or its
    asset): its follower has then read the movement's transaction, notifications included."""
    lon, lat = INTO_A[0]
    body = {
        "unit_id": "a-drones",
        "position": {"lat": lat, "lon": lon},
        "cep_m": 10,
        "time": now_iso(),
    }
    deadline = time.monotonic() + FOLLOW_DEADLINE_S
    with node.client(world.op_a) as http:
        while True:
            r = http.post("/v1/checks", json=body)
            assert r.status_code == 201, r.text
            if {movement_id, asset_id} & {m["id"] for m in r.json()["matches"]}:
                return
            assert time.monotonic() < deadline, "the second node never followed the first"
            time.sleep(0.1)


def test_a_unit_is_briefed_on_a_type_once_when_two_nodes_plan_its_arrivals(
    world: World, second_node: Server
) -> None:
    for aid in ("b-1", "b-2"):
        world.post("/v1/assets", asset(aid, "bravo", releasable_to=["*"]), world.coord_b)
    world.movement("first", "b-1", INTO_A)  # planned by the first node: a briefing opens
    wait_until_followed(second_node, world, "first", "b-1")

    with second_node.client(world.coord_b) as http:  # the same type, planned by the second
        r = http.post(
            "/v1/movements",
            json={
                "id": "second",
                "asset_id": "b-2",
                "route": {"type": "LineString", "coordinates": INTO_A},
                "corridor_m": 200,
                "start": now_iso(),
                "end": now_iso(4 * 3600),
            },
            headers=bearer(world.coord_b),
        )
        assert r.status_code == 201, r.text

    pending = world.inbox("a-drones", world.op_a)
    assert {n["subject"]["id"] for n in of(pending, "announced_arrival")} == {"first", "second"}
    briefings = of(pending, "recognition_briefing")
    assert [n["type_id"] for n in briefings] == ["sam-w"], briefings
