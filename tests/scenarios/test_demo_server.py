"""The demo: the replay's HOLD on the command line, and over HTTP with the drone team's token."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from deconfliction.scenarios.demo import DRONE_TEAM, VARIANT_ASSET, VARIANT_MOVEMENT, build_demo
from tests.support.live import Server, issue, run_cli

pytestmark = pytest.mark.integration


def test_replay_prints_both_timelines_and_the_hold() -> None:
    result = run_cli("demo", "--replay")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    without = text.index("Without the service")
    with_ = text.index("With the service")
    assert without < with_
    assert "Nobody tells Kestrel 7" in text[without:with_]
    assert "HOLD" not in text[without:with_].replace("holds", "")
    tail = text[with_:]
    assert "HOLD" in tail
    assert "Bastion-2" in tail  # the reason names the asset


def test_demo_load_is_idempotent(data_dir: Path) -> None:
    first = run_cli("demo", "--data-dir", str(data_dir))
    assert first.returncode == 0, first.stderr
    second = run_cli("demo", "--data-dir", str(data_dir))
    assert second.returncode == 0, second.stderr
    assert "0 created" in second.stdout


def test_demo_server_answers_hold_to_the_drone_team(data_dir: Path) -> None:
    srv = Server(data_dir, "--demo").start()
    try:
        match = re.search(r"DEMO_TOKEN=(\S+)", srv.log())
        assert match, srv.log()
        incident = build_demo(datetime.now(UTC)).incident_check
        body = incident.model_dump(mode="json")
        body["time"] = datetime.now(UTC).isoformat()
        with srv.client(match.group(1)) as team:
            r = team.post("/v1/checks", json=body)
        assert r.status_code == 201, r.text
        answer = r.json()
        assert answer["verdict"] == "HOLD"
        ids = {m["id"] for m in answer["matches"]}
        assert VARIANT_ASSET in ids
        assert all(m["reasons"] for m in answer["matches"])
        # The token is the drone team's: it cannot check as anyone else.
        body["unit_id"] = "wma-cc"
        with srv.client(match.group(1)) as team:
            assert team.post("/v1/checks", json=body).status_code == 403
        assert DRONE_TEAM in srv.log()
    finally:
        srv.stop()


def _team_inbox(srv: Server, token: str, want: int = 2, timeout_s: float = 10.0) -> list[Any]:
    """The drone team's pending notifications, once ``want`` are there (planning another
    process's write takes a follow tick)."""
    deadline = time.monotonic() + timeout_s
    while True:
        with srv.client(token) as team:
            r = team.get(f"/v1/units/{DRONE_TEAM}/notifications", params={"state": "pending"})
        assert r.status_code == 200, r.text
        items: list[Any] = r.json()["items"]
        if len(items) >= want or time.monotonic() > deadline:
            return items
        time.sleep(0.1)


def _told_of_bastion(items: list[Any]) -> None:
    causes = sorted(n["cause"] for n in items)
    assert causes == ["announced_arrival", "recognition_briefing"], items
    arrival = next(n for n in items if n["cause"] == "announced_arrival")
    assert arrival["asset"] == {"id": VARIANT_ASSET, "callsign": "Bastion-2"}
    assert arrival["subject"] == {"kind": "movement", "id": VARIANT_MOVEMENT}


def test_serve_demo_tells_the_drone_team_once_across_reloads_and_restarts(data_dir: Path) -> None:
    srv = Server(data_dir, "--demo").start()
    try:
        match = re.search(r"DEMO_TOKEN=(\S+)", srv.log())
        assert match, srv.log()
        token = match.group(1)
        first = _team_inbox(srv, token)
        _told_of_bastion(first)
        # The demo loaded again by another process (re-dated: the same story): no duplicate.
        again = run_cli("demo", "--data-dir", str(data_dir))
        assert again.returncode == 0, again.stderr
        time.sleep(1.0)  # a few follow ticks
        _told_of_bastion(_team_inbox(srv, token))
    finally:
        srv.stop()
    # A restart (with --demo: loaded again before the engine) tells nobody twice either.
    srv = Server(data_dir, "--demo").start()
    try:
        items = _team_inbox(srv, token)
        _told_of_bastion(items)
        assert {n["id"] for n in items} == {n["id"] for n in first}
    finally:
        srv.stop()


def test_a_demo_loaded_by_another_process_while_serving_is_planned(data_dir: Path) -> None:
    srv = Server(data_dir).start()
    try:
        loaded = run_cli("demo", "--data-dir", str(data_dir))
        assert loaded.returncode == 0, loaded.stderr
        token = issue(data_dir, "operator", DRONE_TEAM)
        items = _team_inbox(srv, token)
        _told_of_bastion(items)
    finally:
        srv.stop()
    srv = Server(data_dir).start()  # a restart re-plans nothing
    try:
        time.sleep(0.5)
        again = _team_inbox(srv, token)
        assert {n["id"] for n in again} == {n["id"] for n in items}
    finally:
        srv.stop()
