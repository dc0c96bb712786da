"""Bad input against the real server: a 4xx in the documented shape, and the store unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.support.live import Server, store_at
from tests.support.world import Tokens, asset, check_body, report

pytestmark = pytest.mark.integration


def _snapshot(data_dir: Path) -> tuple[int, int, int, int]:
    with store_at(data_dir) as store:
        return (
            store.last_event_seq(),
            store.count("asset"),
            store.count_reports(),
            store.count_checks(),
        )


def _error(
    r: httpx.Response, status: int, code: str | None = None, field: str | None = None
) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str), error
    assert set(error) <= {"code", "message", "field", "details", "treat_as"}, error
    if code is not None:
        assert error["code"] == code, error
    if field is not None:
        assert error.get("field") == field, error
    return error


GOOD_REPORTS = [report("a-one", 48.5, 35.5)]

CASES: list[tuple[str, str, str, Any, int, str | None, str | None]] = [
    # (name, method, path, body (bytes = raw), status, code, field)
    ("malformed json", "POST", "/v1/assets", b'{"id": "x", ', 400, "invalid_json", None),
    ("empty body", "POST", "/v1/assets", b"", 400, "invalid_json", None),
    ("not an object", "POST", "/v1/assets", [1, 2], 422, "invalid", None),
    (
        "wrong type",
        "POST",
        "/v1/assets",
        asset("x", "alpha") | {"callsign": 5},
        422,
        "invalid",
        "callsign",
    ),
    (
        "unknown field",
        "POST",
        "/v1/assets",
        asset("x", "alpha") | {"colour": "red"},
        422,
        "invalid",
        "colour",
    ),
    ("bad id", "POST", "/v1/assets", asset("bad id!", "alpha"), 422, "invalid", "id"),
    (
        "unknown type",
        "POST",
        "/v1/assets",
        asset("x", "alpha") | {"type_id": "nope"},
        422,
        "unknown_reference",
        "type_id",
    ),
    (
        "unknown party",
        "POST",
        "/v1/sites",
        {
            "id": "s",
            "party_id": "nope",
            "kind": "hospital",
            "position": {"lat": 1, "lon": 1},
            "radius_m": 5,
        },
        422,
        "unknown_reference",
        "party_id",
    ),
    ("duplicate id", "POST", "/v1/assets", asset("a-one", "alpha"), 409, "already_exists", "id"),
    (
        "bare NaN",
        "POST",
        "/v1/checks",
        b'{"unit_id": "a-drones", "position": {"lat": NaN, "lon": 35.5}, "cep_m": 10}',
        400,
        "invalid_json",
        None,
    ),
    (
        "bare Infinity",
        "POST",
        "/v1/reports",
        b'[{"asset_id": "a-one", "time": "2026-01-01T00:00:00Z", '
        b'"position": {"lat": 48, "lon": 35}, "cep_m": Infinity}]',
        400,
        "invalid_json",
        None,
    ),
    (
        "-Infinity",
        "POST",
        "/v1/sites",
        b'{"id": "s", "party_id": "alpha", "kind": "x", '
        b'"position": {"lat": 1, "lon": -Infinity}, "radius_m": 1}',
        400,
        "invalid_json",
        None,
    ),
    (
        "lat out of range",
        "POST",
        "/v1/checks",
        check_body("a-drones", 91, 35.5),
        422,
        "invalid",
        "position.lat",
    ),
    (
        "lon out of range",
        "POST",
        "/v1/checks",
        check_body("a-drones", 48, 180.5),
        422,
        "invalid",
        "position.lon",
    ),
    (
        "mgrs garbage",
        "POST",
        "/v1/checks",
        {"unit_id": "a-drones", "position": {"mgrs": "37UZZ99"}, "cep_m": 10},
        422,
        "invalid",
        "position.mgrs",
    ),
    (
        "mgrs not a string",
        "POST",
        "/v1/checks",
        {"unit_id": "a-drones", "position": {"mgrs": 37}, "cep_m": 10},
        422,
        "invalid",
        "position.mgrs",
    ),
    (
        "negative cep",
        "POST",
        "/v1/checks",
        check_body("a-drones", 48, 35, cep_m=-1),
        422,
        "invalid",
        "cep_m",
    ),
    (
        "unknown feature",
        "POST",
        "/v1/checks",
        check_body("a-drones", 48, 35) | {"observed": {"features": ["tail_fin"]}},
        422,
        "invalid",
        "observed.features[0]",
    ),
    (
        "time without zone",
        "POST",
        "/v1/checks",
        check_body("a-drones", 48, 35) | {"time": "2026-01-01T00:00:00"},
        422,
        "invalid",
        "time",
    ),
    (
        "bad polygon",
        "POST",
        "/v1/areas",
        {
            "id": "ar",
            "party_id": "alpha",
            "kind": "operating",
            "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [0, 0]]]},
            "start": "2026-01-01T00:00:00Z",
            "end": "2026-01-02T00:00:00Z",
        },
        422,
        "invalid",
        None,
    ),
    (
        "unknown asset in report",
        "POST",
        "/v1/reports",
        [report("ghost", 48, 35)],
        422,
        "invalid",
        "reports[0].asset_id",
    ),
    (
        "one bad report in a batch",
        "POST",
        "/v1/reports",
        [*GOOD_REPORTS * 3, report("a-one", 95, 35), *GOOD_REPORTS],
        422,
        "invalid",
        "reports[3].position.lat",
    ),
    (
        "report in the future",
        "POST",
        "/v1/reports",
        [report("a-one", 48, 35, delta_s=3600)],
        422,
        "invalid",
        "reports[0].time",
    ),
    ("reports not a list", "POST", "/v1/reports", {"asset_id": "a-one"}, 422, "invalid", "reports"),
    (
        "too many reports",
        "POST",
        "/v1/reports",
        [report("a-one", 48, 35)] * 10_001,
        422,
        "too_many",
        "reports",
    ),
    (
        "oversized body",
        "POST",
        "/v1/assets",
        b'{"id": "' + b"x" * (2 * 1024 * 1024) + b'"}',
        413,
        "body_too_large",
        None,
    ),
    (
        "oversized check",
        "POST",
        "/v1/checks",
        b'{"note": "' + b"x" * (2 * 1024 * 1024) + b'"}',
        413,
        "body_too_large",
        None,
    ),
    (
        "oversized reports",
        "POST",
        "/v1/reports",
        b"[" + b" " * (9 * 1024 * 1024) + b"]",
        413,
        "body_too_large",
        None,
    ),
    ("unknown id", "GET", "/v1/assets/nope", None, 404, "not_found", None),
    ("unknown check", "GET", "/v1/checks/chk_nope", None, 404, "not_found", None),
    ("unknown route", "GET", "/v1/nothing", None, 404, "not_found", None),
    ("wrong method", "PATCH", "/v1/assets/a-one", {}, 405, "method_not_allowed", None),
    ("bad limit", "GET", "/v1/assets?limit=zero", None, 422, "invalid", "limit"),
    ("limit out of range", "GET", "/v1/assets?limit=0", None, 422, "invalid", "limit"),
    (
        "id mismatch on replace",
        "PUT",
        "/v1/assets/a-one",
        asset("other", "alpha"),
        422,
        "invalid",
        "id",
    ),
    ("delete in use", "DELETE", "/v1/parties/alpha", None, 409, "in_use", None),
]


@pytest.fixture
def world(server: Server, tokens: Tokens) -> Tokens:
    with server.client(tokens.coord_a) as c:
        assert c.post("/v1/assets", json=asset("a-one", "alpha")).status_code == 201
    return tokens


def test_every_bad_input_is_a_4xx_in_shape_and_changes_nothing(
    server: Server, world: Tokens, data_dir: Path
) -> None:
    tokens_for = {"/v1/checks": world.op_a, "/v1/parties/alpha": world.admin}
    failures: list[str] = []
    for name, method, path, body, status, code, field in CASES:
        before = _snapshot(data_dir)
        token = tokens_for.get(path.split("?")[0], world.coord_a)
        if name == "unknown party":
            token = world.admin
        kwargs: dict[str, Any] = {}
        if isinstance(body, bytes):
            kwargs["content"] = body
            kwargs["headers"] = {"Content-Type": "application/json"}
        elif body is not None:
            kwargs["content"] = orjson.dumps(body)
            kwargs["headers"] = {"Content-Type": "application/json"}
        with server.client(token) as c:
            r = c.request(method, path, **kwargs)
        try:
            _error(r, status, code, field)
        except AssertionError as exc:
            failures.append(f"{name}: {exc}")
        if _snapshot(data_dir) != before:
            failures.append(f"{name}: the store changed")
    assert not failures, "\n".join(failures)


def test_a_batch_with_one_bad_report_names_each_bad_item(
    server: Server, world: Tokens, data_dir: Path
) -> None:
    before = _snapshot(data_dir)
    batch = [report("a-one", 48.5, 35.5) for _ in range(10)]
    batch[3] = report("a-one", 48.5, 200)
    batch[7] = report("ghost", 48.5, 35.5)
    with server.client(world.coord_a) as c:
        r = c.post("/v1/reports", json=batch)
    error = _error(r, 422, "invalid", "reports[3].position.lon")
    assert [d["field"] for d in error["details"]] == [
        "reports[3].position.lon",
        "reports[7].asset_id",
    ]
    assert "200" in error["message"] and "ghost" in error["message"]
    assert _snapshot(data_dir) == before
