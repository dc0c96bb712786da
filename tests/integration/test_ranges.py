"""Physical ranges at every edge, over the real server (docs/security.md, "Physical ranges
at every edge"; issue 15, findings 1, 5 and 11).

Before the ranges: a coordinator's report of its own asset with ``cep_m: 1e308`` made
every check by every party anywhere a 500 (OverflowError in ``CellGrid.count_within``),
across restarts; a check with that CEP was a 500; ``0001-01-01T00:00:00+14:00`` in a check
or a report was a 500; a ``Last-Event-ID`` past 64 bits broke the stream on SQLite.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.live import Server, store_at
from tests.integration.world import Tokens, asset, check_body, report

#: Checks far apart: the asset's own area, the other side of the earth, a pole, the
#: antimeridian.
PLACES = [(48.5, 35.5), (-40.0, -100.0), (89.9, 0.0), (0.0, 179.99), (-89.9, -45.0)]


def _field(response: httpx.Response) -> str:
    body: dict[str, Any] = response.json()
    return str(body["error"].get("field") or "")


def _hold_everywhere(server: Server, token: str) -> None:
    with server.client(token) as b:
        for lat, lon in PLACES:
            r = b.post("/v1/checks", json=check_body("b-team", lat, lon))
            assert r.status_code == 201, r.text
            answer = r.json()
            assert answer["verdict"] == "HOLD", (lat, lon, answer)
            assert any(m["party_id"] == "alpha" for m in answer["matches"]), answer


def test_an_absurd_cep_is_refused_at_the_edge_and_one_stored_holds_everywhere_after_restarts(
    server: Server, tokens: Tokens, data_dir: Path
) -> None:
    with server.client(tokens.coord_a) as a:
        assert a.post("/v1/assets", json=asset("a-wild", "alpha")).status_code == 201
        r = a.post("/v1/reports", json=[{**report("a-wild", 48.5, 35.5), "cep_m": 1e308}])
        assert r.status_code == 422, r.text
        assert _field(r) == "reports[0].cep_m"
    with server.client(tokens.op_b) as b:
        r = b.post("/v1/checks", json=check_body("b-team", 48.5, 35.5, cep_m=1e308))
        assert r.status_code == 422, r.text
        assert _field(r) == "cep_m"
    # What an older version stored when it took the report.
    server.stop()
    with store_at(data_dir) as store:
        row = report("a-wild", 48.5, 35.5)
        store.add_reports(
            [
                {
                    "asset_id": "a-wild",
                    "time": row["time"],
                    "lat": 48.5,
                    "lon": 35.5,
                    "cep_m": 1e308,
                }
            ],
            actor="older-version",
        )
    for _ in range(2):  # and across a second restart
        server.start()
        _hold_everywhere(server, tokens.op_b)
        server.stop()


@pytest.mark.parametrize(
    "when", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1969-12-31T23:59:59Z"]
)
def test_a_time_outside_the_window_is_a_422_naming_it(
    server: Server, tokens: Tokens, when: str
) -> None:
    with server.client(tokens.op_b) as b:
        r = b.post("/v1/checks", json={**check_body("b-team", 48.5, 35.5), "time": when})
        assert r.status_code == 422, r.text
        assert _field(r) == "time"
    with server.client(tokens.coord_a) as a:
        assert a.post("/v1/assets", json=asset("a-one", "alpha")).status_code == 201
        r = a.post("/v1/reports", json=[{**report("a-one", 48.5, 35.5), "time": when}])
        assert r.status_code == 422, r.text
        assert _field(r) == "reports[0].time"
    # The server still answers.
    with server.client(tokens.op_b) as b:
        assert b.post("/v1/checks", json=check_body("b-team", 48.5, 35.5)).status_code == 201


@pytest.mark.parametrize("position", [2**63, 2**64, -1])
def test_a_stream_cursor_past_64_bits_is_a_422_naming_it(
    server: Server, tokens: Tokens, position: int
) -> None:
    path = "/v1/units/b-team/notifications"
    with server.client(tokens.op_b) as b:
        r = b.get(f"{path}/stream", headers={"Last-Event-ID": str(position)})
        assert r.status_code == 422, r.text
        assert _field(r) == "Last-Event-ID"
        r = b.get(f"{path}/stream", params={"after": str(position)})
        assert r.status_code == 422, r.text
        assert _field(r) == "after"
        r = b.get(path, params={"after": str(position)})
        assert r.status_code == 422, r.text
        assert _field(r) == "after"


def test_the_newest_allowed_times_are_taken(server: Server, tokens: Tokens) -> None:
    early = datetime(1970, 1, 1, tzinfo=UTC).isoformat()
    with server.client(tokens.op_b) as b:
        r = b.post("/v1/checks", json={**check_body("b-team", 48.5, 35.5), "time": early})
        assert r.status_code == 201, r.text
    recent = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    with server.client(tokens.coord_a) as a:
        assert a.post("/v1/assets", json=asset("a-two", "alpha")).status_code == 201
        r = a.post("/v1/reports", json=[{**report("a-two", 48.5, 35.5), "time": recent}])
        assert r.status_code in (200, 201), r.text
