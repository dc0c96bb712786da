"""Physical ranges at every edge, over the real server (docs/design/security.md, "Physical ranges
at every edge"; issue 15, findings 1, 5 and 11).

Before the ranges: a coordinator's report of its own asset with ``cep_m: 1e308`` made
every check by every party anywhere a 500 (OverflowError in ``CellGrid.count_within``),
across restarts; a check with that CEP was a 500; ``0001-01-01T00:00:00+14:00`` in a check
or a report was a 500; a ``Last-Event-ID`` past 64 bits broke the stream on SQLite.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.live import Server, raw_sql, store_at
from tests.support.world import Tokens, asset, check_body, report

pytestmark = pytest.mark.integration

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


def _rewrite_documents(sql: Any, kind: str, changes: dict[str, dict[str, Any]]) -> None:
    """Set fields of stored documents directly in the table, as an older version (or an
    intruder with the database's credentials) could have left them."""
    mark = "?" if isinstance(sql, sqlite3.Connection) else "%s"
    for object_id, fields in changes.items():
        (data,) = sql.execute(
            f"SELECT data FROM objects WHERE kind = {mark} AND id = {mark}", (kind, object_id)
        ).fetchone()
        sql.execute(
            f"UPDATE objects SET data = {mark} WHERE kind = {mark} AND id = {mark}",
            (json.dumps({**json.loads(data), **fields}), kind, object_id),
        )


def test_an_older_versions_absurd_rows_written_directly_start_and_hold_where_they_could_be(
    server: Server, tokens: Tokens, data_dir: Path
) -> None:
    """Rows written straight into the tables with values no edge takes today: the server
    starts, answers every check by another party with a 2xx, and is HOLD (naming the
    owner) wherever the asset could be — which, for a report with an absurd CEP and time,
    is anywhere. Before the ranges, a CEP of 1e308 made every check a 500."""
    with server.client(tokens.coord_a) as a:
        for aid in ("a-old", "a-fast"):
            assert a.post("/v1/assets", json=asset(aid, "alpha")).status_code == 201
        r = a.post("/v1/reports", json=[report("a-old", 48.5, 35.5), report("a-fast", 10, 10)])
        assert r.status_code in (200, 201), r.text
        site = {"id": "a-depot", "party_id": "alpha", "kind": "warehouse", "radius_m": 500}
        site["position"] = {"lat": -20.0, "lon": 60.0}
        assert a.post("/v1/sites", json=site).status_code == 201, r.text
    with server.client(tokens.op_b) as b:  # before: nothing of alpha's far from them
        r = b.post("/v1/checks", json=check_body("b-team", -40.0, -100.0))
        assert r.json()["verdict"] == "NO_KNOWN_MATCH", r.text
    server.stop()
    with raw_sql(data_dir) as sql:
        for table in ("reports", "latest_reports"):
            sql.execute(
                f"UPDATE {table} SET cep_m = 1e308, time = '0001-01-01T00:00:00.000000Z' "
                "WHERE asset_id = 'a-old'"
            )
            sql.execute(f"UPDATE {table} SET speed_kmh = 1e308 WHERE asset_id = 'a-fast'")
        _rewrite_documents(sql, "asset", {"a-fast": {"max_speed_kmh": 1e308}})
        _rewrite_documents(sql, "site", {"a-depot": {"radius_m": 1e308}})
        _rewrite_documents(sql, "party", {"alpha": {"announcement_lead_min": 1e308}})
    server.start()
    _hold_everywhere(server, tokens.op_b)
    with server.client(tokens.op_a) as a:  # the owner sees why: the report is out of range
        r = a.post("/v1/checks", json=check_body("a-drones", -40.0, -100.0))
        assert r.status_code == 201, r.text
        assert {m.get("id") for m in r.json()["matches"]} >= {"a-old", "a-depot"}, r.text
