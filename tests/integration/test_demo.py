"""The demo: the replay's HOLD on the command line, and over HTTP with the drone team's token."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from deconfliction.scenarios.demo import DRONE_TEAM, VARIANT_ASSET, build_demo
from tests.integration.live import Server, run_cli


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
