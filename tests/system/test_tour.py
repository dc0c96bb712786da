"""The README's five-minute tour, against the real server started as ``./start`` does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.live import Server, run_cli
from tests.support.world import now_iso

pytestmark = pytest.mark.integration

# The tour's new asset: a second wheeled launcher of Westmark, 2 km from the drone team.
ASSET = {
    "id": "wma-rampart-5",
    "party_id": "wma",
    "type_id": "skyshield-w",
    "callsign": "Rampart-5",
    "releasable_to": ["ndf"],
}
LAT, LON = 48.60, 36.20


def test_readme_tour(data_dir: Path) -> None:
    srv = Server(data_dir, "--demo").start()
    try:
        demo_token = re.search(r"DEMO_TOKEN=(\S+)", srv.log())
        assert demo_token, srv.log()
        drone_team = demo_token.group(1)

        # 1. A coordinator token for Westmark's coordination cell (the CLI, on the same store).
        issued = run_cli(
            "token",
            "issue",
            "--role",
            "coordinator",
            "--unit",
            "wma-cc",
            "--data-dir",
            str(data_dir),
        )
        assert issued.returncode == 0, issued.stderr
        coordinator = issued.stdout.strip()

        with srv.client(coordinator) as wma:
            # 2. Register an asset.
            r = wma.post("/v1/assets", json=ASSET)
            assert r.status_code == 201, r.text
            # 3. Report its position.
            r = wma.post(
                "/v1/reports",
                json=[
                    {
                        "asset_id": ASSET["id"],
                        "time": now_iso(-60),
                        "position": {"lat": LAT, "lon": LON},
                        "cep_m": 20,
                    }
                ],
            )
            assert r.status_code == 200, r.text
            assert r.json() == {"accepted": 1}

        # 4. The drone team checks a point 300 m away, with the CLI ...
        cli = run_cli(
            "check",
            "--url",
            srv.url,
            "--token",
            drone_team,
            "--lat",
            str(LAT + 0.0027),
            "--lon",
            str(LON),
            "--cep-m",
            "30",
            "--mobility",
            "wheeled",
            "--feature",
            "radar",
        )
        assert cli.returncode == 3, cli.stdout + cli.stderr  # 3 = HOLD
        assert "HOLD" in cli.stdout
        assert "Rampart-5" in cli.stdout

        # ... and with curl (here httpx): read the verdict.
        with srv.client(drone_team) as team:
            r = team.post(
                "/v1/checks",
                json={
                    "unit_id": "ndf-kestrel-7",
                    "position": {"lat": LAT + 0.0027, "lon": LON},
                    "cep_m": 30,
                    "observed": {"mobility": "wheeled", "features": ["radar"]},
                },
            )
            assert r.status_code == 201, r.text
            answer = r.json()
            assert answer["verdict"] == "HOLD"
            assert any(m["id"] == ASSET["id"] for m in answer["matches"])
            for key in (
                "id",
                "matches",
                "match_count",
                "valid_until",
                "coverage_gaps",
                "evaluated_at",
            ):
                assert key in answer
            # The check is on record for the asker.
            again = team.get(f"/v1/checks/{answer['id']}")
            assert again.status_code == 200
            assert again.json() == answer
            # Far from everything: nothing registered could be there (never a clearance).
            r = team.post(
                "/v1/checks",
                json={
                    "unit_id": "ndf-kestrel-7",
                    "position": {"lat": 10.0, "lon": 10.0},
                    "cep_m": 5,
                },
            )
            assert r.status_code == 201
            assert r.json()["verdict"] == "NO_KNOWN_MATCH"
    finally:
        srv.stop()
