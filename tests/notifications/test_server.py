"""Nobody left uninformed, over the real HTTP server: announcements, briefings,
unannounced entries, HOLD on one's asset, escalation (on an injected clock), access."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from deconfliction.scenarios.demo import (
    DRONE_TEAM,
    NDF_CELL,
    SKYSHIELD_W,
    TYPE_88,
    VARIANT_ASSET,
    VARIANT_MOVEMENT,
    WMA_CELL,
    build_demo,
)
from tests.support.live import Server, issue, store_at
from tests.support.notification_world import ACK, INTO_A, World, bearer, of
from tests.support.world import asset, party, report, unit

pytestmark = pytest.mark.integration


def t(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_the_demo_drone_team_is_told_and_briefed_before_the_wheeled_variant_arrives(
    server: Server, data_dir: Path
) -> None:
    now = datetime.now(UTC)
    scenario = build_demo(now)
    admin = issue(data_dir, "admin")
    with server.client(admin) as http:
        for group, path in (
            (scenario.parties, "/v1/parties"),
            (scenario.units, "/v1/units"),
            (scenario.equipment_types, "/v1/equipment-types"),
            (scenario.assets, "/v1/assets"),
        ):
            for model in group:
                r = http.post(path, json=model.model_dump(mode="json"))
                assert r.status_code == 201, r.text
        team = issue(data_dir, "operator", DRONE_TEAM)
        assert (
            http.get(f"/v1/units/{DRONE_TEAM}/notifications", headers=bearer(team)).json()["items"]
            == []
        )
        wma = issue(data_dir, "coordinator", WMA_CELL)
        march = next(m for m in scenario.movements if m.id == VARIANT_MOVEMENT)
        registered = datetime.now(UTC)
        r = http.post("/v1/movements", json=march.model_dump(mode="json"), headers=bearer(wma))
        assert r.status_code == 201, r.text
        inbox = http.get(f"/v1/units/{DRONE_TEAM}/notifications", headers=bearer(team)).json()
    items = inbox["items"]
    (arrival,) = of(items, "announced_arrival")
    (briefing,) = of(items, "recognition_briefing")
    # Entry: loading + along-route distance at 60 km/h (an hour after now); the corridor
    # (500 m, 30 s) and the geodesic make it a little earlier than the story's, never later.
    entry = t(arrival["entry"]["at"])
    expected = scenario.narrative.enters_drone_aor_at
    assert expected - timedelta(seconds=60) <= entry <= expected + timedelta(seconds=10)
    assert t(arrival["deadline"]) == entry - timedelta(minutes=30)
    assert registered < t(arrival["deadline"])
    assert arrival["answers"] == ["acknowledged"]
    assert arrival["state"] == "pending" and arrival["response"] is None
    # Releasable to Northland: callsign, id and route; always the card, window and entry.
    assert arrival["asset"] == {"id": VARIANT_ASSET, "callsign": "Bastion-2"}
    assert arrival["subject"] == {"kind": "movement", "id": VARIANT_MOVEMENT}
    assert arrival["geometry"]["type"] == "LineString"
    assert arrival["entry"]["position"]["lat"] == pytest.approx(48.35, abs=0.01)
    assert arrival["window"]["start"] and arrival["window"]["end"]
    card = arrival["card"]
    assert card["type_id"] == SKYSHIELD_W and card["profile"]["mobility"] == "wheeled"
    assert card["looks_like"][0]["type_id"] == TYPE_88 and "rails" in card["looks_like"][0]["cue"]
    assert "never approved" in card["acknowledgement"]
    assert "never approved" in arrival["message"]
    # The briefing: the full card, needs `briefed`, due with the arrival.
    assert briefing["answers"] == ["briefed"]
    assert briefing["card"] == card
    assert briefing["deadline"] == arrival["deadline"]
    assert briefing["arrivals"] == [arrival["id"]]
    # Northland's cell is touched too (its sector holds the route from the start: its
    # deadline is the least time to answer, 5 min, from when it was told: issue 24);
    # Westmark's own units are not told.
    with server.client(issue(data_dir, "coordinator", NDF_CELL)) as http:
        cell = http.get(f"/v1/units/{NDF_CELL}/notifications").json()["items"]
        told = {n["cause"] for n in cell} - {"escalation"}
        assert told == {"announced_arrival", "recognition_briefing"}
        (cell_arrival,) = of(cell, "announced_arrival")
        due = t(cell_arrival["deadline"]) - t(cell_arrival["created_at"])
        assert due == timedelta(minutes=5)
        assert t(cell_arrival["deadline"]) - registered < timedelta(minutes=5, seconds=30)
        wma_items = http.get(
            f"/v1/units/{WMA_CELL}/notifications", params={"state": "all"}, headers=bearer(admin)
        ).json()["items"]
        assert {n["cause"] for n in wma_items} <= {"escalation"}


def test_an_announcement_the_party_may_not_see_still_carries_card_window_and_entry(
    world: World,
) -> None:
    world.post("/v1/assets", asset("b-sam", "bravo"))  # owner-only
    world.movement("m-hidden", "b-sam", INTO_A)
    (arrival,) = of(world.inbox("a-drones", world.op_a), "announced_arrival")
    assert arrival["details_withheld"] is True
    assert arrival["asset"] is None and arrival["subject"]["id"] is None
    assert arrival["geometry"] is None
    assert "b-sam" not in str(arrival) and "m-hidden" not in str(arrival)
    assert arrival["card"]["name"] == "Skyshield-W"
    assert arrival["entry"]["position"]["lon"] == pytest.approx(36.0, abs=0.01)
    assert arrival["window"]["start"] and arrival["owner_party_id"] == "bravo"
    assert arrival["contact"] == "Bravo hotline 555-0100"


def test_a_hundred_reports_inside_an_unannounced_aor_make_one_urgent_entry(
    world: World,
) -> None:
    world.post("/v1/assets", asset("b-sam", "bravo", releasable_to=["*"]))
    for batch in range(10):
        reports = [
            report("b-sam", 48.5, 35.5 + 0.001 * (batch * 10 + i), delta_s=-200 + batch * 10 + i)
            for i in range(10)
        ]
        world.post("/v1/reports", reports, world.coord_b)
    items = world.inbox("a-drones", world.op_a)
    entries = of(items, "unannounced_entry")
    assert len(entries) == 1
    (entry,) = entries
    assert entry["urgent"] is True and entry["answers"] == ["acknowledged"]
    assert entry["asset"] == {"id": "b-sam", "callsign": "b-sam"}
    assert entry["card"]["name"] == "Skyshield-W"
    assert len(of(items, "recognition_briefing")) == 1
    # The cell over the same box has its own single entry; Bravo's own units none.
    assert len(of(world.inbox("a-cell", world.coord_a), "unannounced_entry")) == 1
    assert world.inbox("b-cell", world.coord_b) == []
    # Leaving and coming back is a new episode.
    world.post("/v1/reports", [report("b-sam", 48.5, 36.5, delta_s=-20)], world.coord_b)
    world.post("/v1/reports", [report("b-sam", 48.5, 35.5, delta_s=-10)], world.coord_b)
    assert len(of(world.inbox("a-drones", world.op_a), "unannounced_entry")) == 2


def test_an_announced_asset_entering_makes_no_unannounced_entry(world: World) -> None:
    world.post("/v1/assets", asset("b-sam", "bravo", releasable_to=["*"]))
    world.movement("m1", "b-sam", INTO_A)
    world.post("/v1/reports", [report("b-sam", 48.5, 35.8)], world.coord_b)
    items = world.inbox("a-drones", world.op_a)
    assert len(of(items, "announced_arrival")) == 1
    assert of(items, "unannounced_entry") == []


def test_a_partys_own_lead_time_sets_its_units_deadlines(world: World) -> None:
    """docs/design/principles.md: lead time 30 min by default, per party configurable (the notified
    unit's party: it knows how much warning its teams need)."""
    r = world.http.put(
        "/v1/parties/alpha", json={**party("alpha", "Alpha"), "announcement_lead_min": 90}
    )
    assert r.status_code == 200, r.text
    world.post("/v1/assets", asset("b-sam", "bravo", releasable_to=["alpha"]))
    start = datetime.now(UTC) + timedelta(hours=3)
    world.movement("m-late", "b-sam", INTO_A, start=start.isoformat())
    (arrival,) = of(world.inbox("a-drones", world.op_a), "announced_arrival")
    assert t(arrival["deadline"]) == t(arrival["entry"]["at"]) - timedelta(minutes=90)
    bad = world.http.put(
        "/v1/parties/alpha", json={**party("alpha", "Alpha"), "announcement_lead_min": -5}
    )
    assert bad.status_code == 422 and "announcement_lead_min" in bad.text


def test_a_new_aor_drawn_over_a_registered_movement_is_notified(world: World) -> None:
    world.post("/v1/assets", asset("b-sam", "bravo", releasable_to=["alpha"]))
    route = [[36.6, 47.5], [36.6, 47.0]]  # south of both boxes: nobody is told yet
    world.movement("m-south", "b-sam", route)
    assert world.inbox("a-drones", world.op_a) == []
    box = [[36.4, 47.2], [36.8, 47.2], [36.8, 47.4], [36.4, 47.4], [36.4, 47.2]]
    world.post("/v1/units", unit("a-south", "alpha", box), world.coord_a)
    items = world.inbox("a-south", world.coord_a)
    (arrival,) = of(items, "announced_arrival")
    assert arrival["subject"] == {"kind": "movement", "id": "m-south"}
    # 0.1 deg of latitude (47.5 -> 47.4: 11.12 km) less the 200 m corridor, at 60 km/h.
    entry = t(arrival["entry"]["at"]) - t(arrival["window"]["start"])
    assert timedelta(seconds=645) < entry < timedelta(seconds=665)
    assert len(of(items, "recognition_briefing")) == 1


def test_briefings_repeat_without_duplicates_until_briefed(world: World) -> None:
    for aid in ("b-sam-1", "b-sam-2", "b-sam-3"):
        world.post("/v1/assets", asset(aid, "bravo", releasable_to=["*"]))
    world.movement("m1", "b-sam-1", INTO_A)
    world.movement("m2", "b-sam-2", INTO_A)
    items = world.inbox("a-drones", world.op_a)
    assert len(of(items, "announced_arrival")) == 2
    (briefing,) = of(items, "recognition_briefing")  # one pending per unit and type
    assert len(briefing["arrivals"]) == 2  # repeated with the second arrival
    assert briefing["arrival_count"] == 2
    # An acknowledgement is not a briefing: the wrong answer names `response`.
    r = world.answer(briefing["id"], ACK, world.op_a)
    assert r.status_code == 422 and r.json()["error"]["field"] == "response"
    r = world.answer(briefing["id"], {"by": "Cpl. Brief", "response": "briefed"}, world.op_a)
    assert r.status_code == 201, r.text
    assert r.json()["response"] == "briefed" and r.json()["by"] == "Cpl. Brief"
    world.movement("m3", "b-sam-3", INTO_A)
    items = world.inbox("a-drones", world.op_a, state="all")
    assert len(of(items, "announced_arrival")) == 3
    assert len(of(items, "recognition_briefing")) == 1  # briefed: no more briefings
    # The cell was never briefed: it still has exactly one, pending.
    assert len(of(world.inbox("a-cell", world.coord_a), "recognition_briefing")) == 1


def test_answers_are_idempotent_and_only_for_the_unit_or_its_coordinators(world: World) -> None:
    world.post("/v1/assets", asset("b-sam", "bravo", releasable_to=["*"]))
    world.movement("m1", "b-sam", INTO_A)
    (arrival,) = of(world.inbox("a-drones", world.op_a), "announced_arrival")
    (cell_arrival,) = of(world.inbox("a-cell", world.coord_a), "announced_arrival")
    # Another party's operator: the unit and its notifications do not exist for it.
    r = world.http.get("/v1/units/a-drones/notifications", headers=bearer(world.op_b))
    assert r.status_code == 404
    assert world.answer(arrival["id"], ACK, world.op_b).status_code == 404
    assert (
        world.http.get(f"/v1/notifications/{arrival['id']}", headers=bearer(world.op_b)).status_code
        == 404
    )
    # An operator of another unit of the same party: refused.
    r = world.http.get("/v1/units/a-cell/notifications", headers=bearer(world.op_a))
    assert r.status_code == 403
    assert world.answer(cell_arrival["id"], ACK, world.op_a).status_code == 404
    # The unit's operator answers; the same answer again returns it; another is a conflict.
    r = world.answer(arrival["id"], ACK, world.op_a)
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["response"] == "acknowledged" and first["by"] == "Sgt. Tester"
    assert first["as"].startswith("operator:a-drones")
    again = world.answer(arrival["id"], {"by": "Someone Else", "response": "acknowledged"})
    assert again.status_code == 200 and again.json() == first
    r = world.answer(arrival["id"], {"by": "x", "response": "confirmed_ours"}, world.op_a)
    assert r.status_code == 422 and r.json()["error"]["field"] == "response"
    r = world.answer(arrival["id"], {"by": "", "response": "acknowledged"}, world.op_a)
    assert r.status_code == 422 and r.json()["error"]["field"] == "by"
    # A coordinator of the party answers for its unit, recorded as a coordinator.
    r = world.answer(
        cell_arrival["id"], {"by": "Maj. Coord", "response": "acknowledged"}, world.coord_a
    )
    assert r.status_code == 201 and r.json()["as"].startswith("coordinator:")
    pending = world.inbox("a-drones", world.op_a)
    assert of(pending, "announced_arrival") == []
    everything = world.inbox("a-drones", world.op_a, state="all")
    (answered,) = of(everything, "announced_arrival")
    assert answered["state"] == "answered"
    assert answered["response"]["response"] == "acknowledged"


def test_hold_on_your_asset_reaches_the_owner_and_its_answer_shows_on_the_check(
    world: World,
) -> None:
    world.post("/v1/assets", asset("b-sam", "bravo", releasable_to=["alpha"]))
    world.post("/v1/reports", [report("b-sam", 48.5, 35.5)], world.coord_b)
    body = {
        "unit_id": "a-drones",
        "position": {"lat": 48.5005, "lon": 35.5005},
        "cep_m": 20,
        "observed": {"mobility": "wheeled", "features": ["radar"]},
        "note": "radar vehicle?",
    }
    r = world.http.post("/v1/checks", json=body, headers=bearer(world.op_a))
    assert r.status_code == 201, r.text
    check = r.json()
    assert check["verdict"] == "HOLD"
    (hold,) = of(world.inbox("b-cell", world.coord_b), "hold_on_your_asset")
    assert hold["urgent"] is True
    assert hold["answers"] == ["confirmed_ours", "acknowledged"]
    assert hold["check"]["id"] == check["id"]
    assert hold["check"]["unit_id"] == "a-drones" and hold["check"]["party_id"] == "alpha"
    assert hold["check"]["position"] == {"lat": 48.5005, "lon": 35.5005}
    assert hold["check"]["note"] == "radar vehicle?"
    assert hold["asset"]["id"] == "b-sam"
    # Only the owner's cells are told, never the asker's party.
    assert of(world.inbox("a-cell", world.coord_a, state="all"), "hold_on_your_asset") == []
    r = world.answer(hold["id"], {"by": "Lt. Owner", "response": "confirmed_ours"}, world.op_b)
    assert r.status_code == 201, r.text
    seen = world.http.get(f"/v1/checks/{check['id']}", headers=bearer(world.op_a)).json()
    (match,) = [m for m in seen["matches"] if m["id"] == "b-sam"]
    assert match["owner_response"]["response"] == "confirmed_ours"
    assert match["owner_response"]["by"] == "Lt. Owner"
    assert match["owner_response"]["at"] == r.json()["at"]


def test_one_hold_notice_per_owner_cell_names_all_its_matched_assets(world: World) -> None:
    """Two Bravo assets at the point, one the asker may see and one withheld: Bravo's cell
    gets one notice naming both, and its answer shows on both matches of the check."""
    world.post("/v1/assets", asset("b-seen", "bravo", releasable_to=["alpha"]))
    world.post("/v1/assets", asset("b-hidden", "bravo"))
    world.post(
        "/v1/reports",
        [report("b-seen", 48.5, 35.5), report("b-hidden", 48.5001, 35.5001)],
        world.coord_b,
    )
    body = {"unit_id": "a-drones", "position": {"lat": 48.5, "lon": 35.5}, "cep_m": 20}
    r = world.http.post("/v1/checks", json=body, headers=bearer(world.op_a))
    assert r.status_code == 201, r.text
    check = r.json()
    assert check["verdict"] == "HOLD" and check["match_count"] == 2
    (hold,) = of(world.inbox("b-cell", world.coord_b), "hold_on_your_asset")
    assert sorted(a["id"] for a in hold["assets"]) == ["b-hidden", "b-seen"]
    assert "b-hidden" in hold["message"] and "b-seen" in hold["message"]
    r = world.answer(hold["id"], {"by": "Lt. Owner", "response": "confirmed_ours"}, world.op_b)
    assert r.status_code == 201, r.text
    seen = world.http.get(f"/v1/checks/{check['id']}", headers=bearer(world.op_a)).json()
    assert len(seen["matches"]) == 2
    for match in seen["matches"]:
        assert match["owner_response"]["response"] == "confirmed_ours"
    # The withheld match still says nothing of the asset.
    (withheld,) = [m for m in seen["matches"] if m.get("details_withheld")]
    assert "b-hidden" not in str(withheld)


def test_deadline_escalates_to_both_cells_then_out_of_band_then_silence(
    clocked: Server, data_dir: Path
) -> None:
    w = World(clocked, data_dir)
    try:
        w.post("/v1/assets", asset("b-sam", "bravo", releasable_to=["*"]))
        w.movement("m1", "b-sam", INTO_A)
        (arrival,) = of(w.inbox("a-drones", w.op_a), "announced_arrival")
        deadline = t(arrival["deadline"])
        assert w.advance(1)["escalated"] == 0  # not yet due
        # Past the deadline: the arrival and the briefing (both to a-drones) and the cell's
        # own two escalate, each to both parties' coordination cells.
        step = (deadline - datetime.now(UTC)).total_seconds() + 60
        assert w.advance(step)["escalated"] >= 2
        a_cell = of(w.inbox("a-cell", w.coord_a), "escalation")
        b_cell = of(w.inbox("b-cell", w.coord_b), "escalation")
        mine = [n for n in a_cell if n["parent_id"] == arrival["id"]]
        theirs = [n for n in b_cell if n["parent_id"] == arrival["id"]]
        assert len(mine) == 1 and len(theirs) == 1
        assert mine[0]["escalation_level"] == 1 and mine[0]["original"]["unit_id"] == "a-drones"
        still = w.http.get(f"/v1/notifications/{arrival['id']}", headers=bearer(w.op_a)).json()
        assert still["state"] == "escalated" and still["response"] is None
        assert arrival["id"] in {n["id"] for n in w.inbox("a-drones", w.op_a)}  # unanswered
        # Answering Bravo's escalation does not answer the arrival (it stays unanswered).
        r = w.answer(theirs[0]["id"], {"by": "Capt. B", "response": "acknowledged"}, w.coord_b)
        assert r.status_code == 201
        still = w.http.get(f"/v1/notifications/{arrival['id']}", headers=bearer(w.op_a)).json()
        assert still["response"] is None
        # The briefing's escalations stay unanswered: after the interval, out of band.
        (briefing,) = of(w.inbox("a-drones", w.op_a), "recognition_briefing")
        assert w.advance(31 * 60)["escalated"] >= 2
        with store_at(data_dir) as store:
            level2 = store.find_notifications(parent_id=briefing["id"], cause="escalation")
            out_of_band = [n for n in level2 if n["escalation_level"] == 2]
            assert {n["party_id"] for n in out_of_band} == {"alpha", "bravo"}
            assert all(n["unit_id"] is None and n["deadline"] is None for n in out_of_band)
            assert {n["payload"]["contact"] for n in out_of_band} == {
                "Alpha hotline 555-0100",
                "Bravo hotline 555-0100",
            }
            # The arrival's escalation was answered by Bravo: no out-of-band for it.
            arrival_chain = store.find_notifications(parent_id=arrival["id"], cause="escalation")
            assert all(n["escalation_level"] == 1 for n in arrival_chain)
            total = len(store.find_notifications(limit=1000))
        # Then silence, however long nobody answers.
        assert w.advance(24 * 3600)["escalated"] == 0
        with store_at(data_dir) as store:
            assert len(store.find_notifications(limit=1000)) == total
    finally:
        w.http.close()


def test_the_test_clock_is_off_unless_enabled(world: World) -> None:
    r = world.http.post("/v1/test/clock", json={"advance_s": 60})
    assert r.status_code == 404


def test_escalation_timers_survive_a_restart(clocked: Server, data_dir: Path) -> None:
    w = World(clocked, data_dir)
    try:
        w.post("/v1/assets", asset("b-sam", "bravo", releasable_to=["*"]))
        w.movement("m1", "b-sam", INTO_A)
        (arrival,) = of(w.inbox("a-drones", w.op_a), "announced_arrival")
    finally:
        w.http.close()
    clocked.kill()
    clocked.start()
    with clocked.client(issue(data_dir, "admin")) as http:
        step = (t(arrival["deadline"]) - datetime.now(UTC)).total_seconds() + 60
        r = http.post("/v1/test/clock", json={"advance_s": step})
        assert r.status_code == 200 and r.json()["escalated"] >= 2
        cell = http.get("/v1/units/a-cell/notifications").json()["items"]
        assert any(n["parent_id"] == arrival["id"] for n in of(cell, "escalation"))


def test_an_operating_area_announces_its_assets_and_the_dashboard_shows_who_knows(
    world: World,
) -> None:
    world.post("/v1/assets", asset("b-sam", "bravo", releasable_to=["alpha"]))
    start = datetime.now(UTC) + timedelta(hours=2)
    area = {
        "id": "b-op",
        "party_id": "bravo",
        "kind": "operating",
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[35.8, 48.2], [36.2, 48.2], [36.2, 48.4], [35.8, 48.4], [35.8, 48.2]]],
        },
        "start": start.isoformat(),
        "end": (start + timedelta(hours=6)).isoformat(),
        "asset_ids": ["b-sam"],
    }
    world.post("/v1/areas", area, world.coord_b)
    (arrival,) = of(world.inbox("a-drones", world.op_a), "announced_arrival")
    assert arrival["subject"] == {"kind": "area", "id": None}  # the area is owner-only
    assert arrival["details_withheld"] is True and arrival["entry"]["position"] is None
    assert t(arrival["entry"]["at"]) == start
    assert t(arrival["deadline"]) == t(arrival["entry"]["at"]) - timedelta(minutes=30)
    (briefing,) = of(world.inbox("a-drones", world.op_a), "recognition_briefing")
    r = world.answer(briefing["id"], {"by": "Cpl. Brief", "response": "briefed"}, world.op_a)
    assert r.status_code == 201
    r = world.answer(arrival["id"], ACK, world.op_a)
    assert r.status_code == 201
    # The owner's coordinator sees who was told, who answered, who is unbriefed.
    board = world.http.get(
        "/v1/dashboard/awareness", params={"asset": "b-sam"}, headers=bearer(world.coord_b)
    )
    assert board.status_code == 200, board.text
    body = board.json()
    told = {row["unit_id"]: row for row in body["told"]}
    assert set(told) == {"a-drones", "a-cell"}
    assert told["a-drones"]["answered"] is True and told["a-drones"]["briefed"] is True
    assert told["a-drones"]["response"]["by"] == "Sgt. Tester"
    assert told["a-cell"]["answered"] is False and told["a-cell"]["briefed"] is False
    assert body["unanswered"] == ["a-cell"] and body["unbriefed"] == ["a-cell"]
    by_area = world.http.get(
        "/v1/dashboard/awareness", params={"area": "b-op"}, headers=bearer(world.coord_b)
    ).json()
    assert {row["unit_id"] for row in by_area["told"]} == {"a-drones", "a-cell"}
    # Not for the other party's tokens.
    r = world.http.get(
        "/v1/dashboard/awareness", params={"asset": "b-sam"}, headers=bearer(world.coord_a)
    )
    assert r.status_code == 404
    # The same from the CLI, as a coordinator at a terminal reads it.
    shown = dashboard_cli(world, "b-sam", world.coord_b)
    assert shown.returncode == 0, shown.stderr
    assert "a-drones" in shown.stdout and "Sgt. Tester" in shown.stdout
    assert "Unanswered: a-cell" in shown.stdout and "Unbriefed: a-cell" in shown.stdout
    refused = dashboard_cli(world, "b-sam", world.coord_a)
    assert refused.returncode != 0 and "404" in refused.stderr


def dashboard_cli(world: World, asset_id: str, token: str) -> subprocess.CompletedProcess[str]:
    """``deconfliction dashboard --asset`` against the test's server, wide enough a terminal
    for the table's rows to stay on one line."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "deconfliction",
            "dashboard",
            "--asset",
            asset_id,
            "--url",
            world.server.url,
            "--token",
            token,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "250"},
    )
