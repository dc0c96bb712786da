"""Issue 24, deadlines people can meet, over the real server on its test clock: an
announcement is due at the later of its lead-time deadline and now plus the least time to
answer (5 min by default, a party's ``min_answer_min`` for its units), and nothing is
escalated before it. Before, an asset already inside a unit's AOR when announced was due
"now", and its unit's cell was escalated a second after the unit was told."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.support.live import Server
from tests.support.notification_world import World, bearer, of
from tests.support.world import asset, party, report, unit

pytestmark = pytest.mark.integration

#: South of both of the world's AORs: a report here tells nobody.
SOUTH = [[36.4, 47.2], [36.8, 47.2], [36.8, 47.4], [36.4, 47.4], [36.4, 47.2]]


def t(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _already_inside(w: World) -> dict[str, object]:
    """b-sam reported inside SOUTH, then Alpha draws a unit's AOR over it."""
    w.post("/v1/assets", asset("b-sam", "bravo", releasable_to=["*"]))
    w.post("/v1/reports", [report("b-sam", 47.3, 36.6)], w.coord_b)
    w.post("/v1/units", unit("a-south", "alpha", SOUTH), w.coord_a)
    (arrival,) = of(w.inbox("a-south", w.coord_a), "announced_arrival")
    assert "is already inside" in str(arrival["message"])
    return arrival


def _state(w: World, nid: object) -> str:
    r = w.http.get(f"/v1/notifications/{nid}", headers=bearer(w.coord_a))
    assert r.status_code == 200, r.text
    return str(r.json()["state"])


def test_an_arrival_already_inside_is_due_after_the_least_time_to_answer(
    clocked: Server, data_dir: Path
) -> None:
    w = World(clocked, data_dir)
    try:
        arrival = _already_inside(w)
        told = t(str(arrival["created_at"]))
        assert t(str(arrival["deadline"])) == told + timedelta(minutes=5)
        (briefing,) = of(w.inbox("a-south", w.coord_a), "recognition_briefing")
        assert briefing["deadline"] == arrival["deadline"]
        # Up to a second before the deadline, nothing escalates (the clock only moves on).
        now = t(w.advance(0)["now"])
        assert w.advance((told + timedelta(seconds=299) - now).total_seconds())["escalated"] == 0
        assert _state(w, arrival["id"]) == "pending"
        assert of(w.inbox("a-cell", w.coord_a), "escalation") == []
        # Past it, unanswered: escalated to both parties' cells.
        assert w.advance(2)["escalated"] >= 1
        assert _state(w, arrival["id"]) == "escalated"
        assert [
            n
            for n in of(w.inbox("a-cell", w.coord_a), "escalation")
            if n["parent_id"] == arrival["id"]
        ]
    finally:
        w.http.close()


def test_a_partys_own_least_time_to_answer_sets_its_units_deadlines(
    clocked: Server, data_dir: Path
) -> None:
    w = World(clocked, data_dir)
    try:
        r = w.http.put("/v1/parties/alpha", json={**party("alpha", "Alpha"), "min_answer_min": 12})
        assert r.status_code == 200, r.text
        arrival = _already_inside(w)
        told = t(str(arrival["created_at"]))
        assert t(str(arrival["deadline"])) == told + timedelta(minutes=12)
        now = t(w.advance(0)["now"])
        assert w.advance((told + timedelta(minutes=11) - now).total_seconds())["escalated"] == 0
        assert _state(w, arrival["id"]) == "pending"
        for bad in (-1, 24 * 60 + 1, "soon"):
            r = w.http.put(
                "/v1/parties/alpha", json={**party("alpha", "Alpha"), "min_answer_min": bad}
            )
            assert r.status_code == 422 and "min_answer_min" in r.text
    finally:
        w.http.close()


def test_a_units_time_zone_is_an_iana_name(clocked: Server, data_dir: Path) -> None:
    w = World(clocked, data_dir)
    try:
        body = {**unit("a-south", "alpha", SOUTH), "time_zone": "Europe/Berlin"}
        w.post("/v1/units", body, w.coord_a)
        r = w.http.get("/v1/units/a-south", headers=bearer(w.coord_a))
        assert r.json()["time_zone"] == "Europe/Berlin"
        bad = w.http.put("/v1/units/a-south", json={**body, "time_zone": "Mars/Olympus"})
        assert bad.status_code == 422 and "time_zone" in bad.text
    finally:
        w.http.close()
