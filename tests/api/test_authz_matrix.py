"""The authorization matrix: every endpoint of the policy × every role × own / other party,
against the app in-process over a real store.

The targets belong to party alpha. Callers: an admin, alpha's coordinator and operator
(own party), bravo's coordinator and operator (other party), and no token. What each
may get follows from its rule in ``service/policy.py``: no token → 401; a role the rule
does not list → 403; the other party → never a success (404 for what it may not see,
403 or 422 for what it may not manage); the own party (or an admin) → the endpoint's
success. Every endpoint with a rule must have a row here.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import ip_network
from typing import Any

import pytest

from deconfliction.service import policy
from tests.support.api_support import Api, running_api
from tests.support.world import BOX_A, check_body, now_iso, party, unit

pytestmark = pytest.mark.unit

CALLERS = ("anonymous", "admin", "coord_own", "op_own", "coord_other", "op_other")
_n = itertools.count()


def _fresh(prefix: str) -> str:
    return f"{prefix}-{next(_n)}"


@dataclass
class Case:
    """One request; ``prepare`` (run as admin first) returns the path and body to send."""

    prepare: Callable[[Api], tuple[str, Any]]
    #: The status each caller class gets (a set: any of them).
    own: set[int]
    other: set[int]
    admin: set[int] | None = None
    #: Where one caller differs from its class (e.g. a check as another unit).
    only: dict[str, set[int]] | None = None

    def expected(self, caller: str, rule: policy.Rule) -> set[int]:
        if self.only and caller in self.only:
            return self.only[caller]
        if rule.public:
            return self.own
        if caller == "anonymous":
            return {401}
        role = {"admin": "admin", "coord_own": "coordinator", "coord_other": "coordinator"}.get(
            caller, "operator"
        )
        assert rule.roles is not None
        if role not in rule.roles:
            return {403}
        if caller == "admin":
            return self.admin or self.own
        return self.own if caller.endswith("_own") else self.other


def _bodies(api: Api) -> dict[str, Callable[[str], dict[str, Any]]]:
    return {
        "parties": lambda i: party(i, i),
        "equipment-types": lambda i: {
            "id": i,
            "name": i,
            "profile": {"mobility": "wheeled", "features": []},
            "max_speed_kmh": 50,
        },
        "units": lambda i: unit(i, "alpha", BOX_A),
        "assets": lambda i: {"id": i, "party_id": "alpha", "type_id": "sam-w", "callsign": i},
        "movements": lambda i: {
            "id": i,
            "asset_id": "a-asset",
            "route": {"type": "LineString", "coordinates": [[35.1, 48.1], [35.2, 48.2]]},
            "corridor_m": 100,
            "start": now_iso(),
            "end": now_iso(600),
        },
        "areas": lambda i: {
            "id": i,
            "party_id": "alpha",
            "kind": "protected",
            "geometry": {"type": "Polygon", "coordinates": [BOX_A]},
            "start": now_iso(),
            "end": now_iso(600),
        },
        "sites": lambda i: {
            "id": i,
            "party_id": "alpha",
            "kind": "hospital",
            "position": {"lat": 48.3, "lon": 35.3},
            "radius_m": 100,
        },
    }


def _registry_cases(api: Api) -> dict[tuple[str, str], Case]:
    bodies = _bodies(api)
    admin = api.as_(api.tokens.admin)
    cases: dict[tuple[str, str], Case] = {}
    for kind, body in bodies.items():
        shared = kind in ("parties", "equipment-types")
        existing = {
            "parties": "alpha",
            "equipment-types": "sam-w",
            "units": "a-drones",
            "assets": "a-asset",
            "movements": "a-mv",
            "areas": "a-area",
            "sites": "a-site",
        }[kind]

        def make(kind: str = kind, body: Callable[[str], dict[str, Any]] = body) -> str:
            obj_id = _fresh(f"x-{kind}")
            r = api.client.post(f"/v1/{kind}", json=body(obj_id), headers=admin)
            assert r.status_code == 201, r.text
            return obj_id

        item = f"/v1/{kind}/{{obj_id}}"
        cases[("GET", f"/v1/{kind}")] = Case(lambda _a, k=kind: (f"/v1/{k}", None), {200}, {200})
        cases[("GET", item)] = Case(
            lambda _a, k=kind, e=existing: (f"/v1/{k}/{e}", None),
            {200},
            {200} if shared else {404},
        )
        cases[("POST", f"/v1/{kind}")] = Case(
            lambda _a, k=kind, b=body: (f"/v1/{k}", b(_fresh(f"n-{k}"))),
            {201},
            {403, 422},
        )
        cases[("PUT", item)] = Case(
            lambda _a, k=kind, b=body, m=make: (lambda i: (f"/v1/{k}/{i}", b(i)))(m()),
            {200},
            {403, 404},
        )
        cases[("DELETE", item)] = Case(
            lambda _a, k=kind, m=make: (f"/v1/{k}/{m()}", None),
            {204},
            {403, 404},
        )
    return cases


def _cases(api: Api, ids: dict[str, str]) -> dict[tuple[str, str], Case]:
    def report(_a: Api) -> tuple[str, Any]:
        body = [
            {
                "asset_id": "a-asset",
                "time": now_iso(-1),
                "position": {"lat": 48.5, "lon": 35.5},
                "cep_m": 10,
            }
        ]
        return "/v1/reports", body

    def token_to_revoke(a: Api) -> tuple[str, Any]:
        r = a.client.post(
            "/v1/tokens",
            json={"role": "operator", "unit_id": "a-drones"},
            headers=a.as_(a.tokens.admin),
        )
        return f"/v1/tokens/{r.json()['token_id']}", None

    ok = {200}
    cases = {
        ("GET", "/v1/health"): Case(lambda _a: ("/v1/health", None), ok, ok),
        ("GET", "/v1/version"): Case(lambda _a: ("/v1/version", None), ok, ok),
        ("GET", "/v1/ready"): Case(lambda _a: ("/v1/ready", None), ok, ok),
        ("GET", "/openapi.json"): Case(lambda _a: ("/openapi.json", None), ok, ok),
        ("GET", "/docs"): Case(lambda _a: ("/docs", None), ok, ok),
        ("GET", "/docs/oauth2-redirect"): Case(lambda _a: ("/docs/oauth2-redirect", None), ok, ok),
        # 503 when the UI's libraries are not vendored in this checkout.
        ("GET", "/"): Case(lambda _a: ("/", None), {200, 503}, {200, 503}),
        ("GET", "/web"): Case(lambda _a: ("/web/app.js", None), {200, 404}, {200, 404}),
        ("GET", "/v1/me"): Case(lambda _a: ("/v1/me", None), ok, ok),
        ("GET", "/v1/status/checks"): Case(lambda _a: ("/v1/status/checks", None), ok, ok),
        ("POST", "/v1/tokens"): Case(
            lambda _a: ("/v1/tokens", {"role": "operator", "unit_id": "a-drones"}), {201}, {403}
        ),
        ("DELETE", "/v1/tokens/{token_id}"): Case(token_to_revoke, {204}, {403}),
        # Checks as alpha's drone team: only its operator (and admins) may.
        ("POST", "/v1/checks"): Case(
            lambda _a: ("/v1/checks", check_body("a-drones", 48.5, 35.5)),
            {403},
            {403},
            admin={201},
            only={"op_own": {201}},  # the drone team's own operator
        ),
        ("GET", "/v1/checks/{check_id}"): Case(
            lambda _a: (f"/v1/checks/{ids['check']}", None), ok, {404}
        ),
        ("POST", "/v1/reports"): Case(report, {200, 201}, {403, 422}),
        ("GET", "/v1/map"): Case(lambda _a: ("/v1/map", None), ok, ok),
        ("GET", "/v1/vocabulary"): Case(lambda _a: ("/v1/vocabulary", None), ok, ok),
        ("GET", "/v1/map/tile-origins"): Case(lambda _a: ("/v1/map/tile-origins", None), ok, ok),
        ("GET", "/v1/units/{unit_id}/notifications"): Case(
            lambda _a: ("/v1/units/a-cell/notifications", None), {200, 403}, {404}
        ),
        ("GET", "/v1/notifications/{notification_id}"): Case(
            lambda _a: (f"/v1/notifications/{ids['notification']}", None), {200, 403, 404}, {404}
        ),
        ("POST", "/v1/notifications/{notification_id}/responses"): Case(
            lambda _a: (
                f"/v1/notifications/{ids['notification']}/responses",
                {"by": "matrix", "response": "acknowledged"},
            ),
            {200, 201, 403, 404},
            {404},
        ),
        ("GET", "/v1/dashboard/awareness"): Case(
            lambda _a: ("/v1/dashboard/awareness?asset=a-asset", None), ok, {404}
        ),
        # The test clock is a 404 unless the server runs with DECONFLICTION_TEST_CLOCK=1.
        ("POST", "/v1/test/clock"): Case(
            lambda _a: ("/v1/test/clock", {"advance_s": 1}), {404}, {404}
        ),
    }

    def webhook_to_delete(a: Api) -> tuple[str, Any]:
        r = a.client.post(
            "/v1/units/a-cell/webhooks",
            json={"url": "http://127.0.0.1:9/hook"},
            headers=a.as_(a.tokens.admin),
        )
        return f"/v1/webhooks/{r.json()['id']}", None

    hook = {"url": "http://127.0.0.1:9/hook"}
    cases[("POST", "/v1/units/{unit_id}/webhooks")] = Case(
        lambda _a: ("/v1/units/a-cell/webhooks", hook), {201}, {404}
    )
    cases[("GET", "/v1/units/{unit_id}/webhooks")] = Case(
        lambda _a: ("/v1/units/a-cell/webhooks", None), ok, {404}
    )
    cases[("DELETE", "/v1/webhooks/{webhook_id}")] = Case(webhook_to_delete, {204}, {404})
    at = now_iso().replace("+00:00", "Z")
    cases[("GET", "/v1/review")] = Case(
        lambda _a: (f"/v1/review?at={at}&lat=48.5&lon=35.5&radius_m=1000", None), ok, ok
    )
    # In process there is no gateway: the status says it is off (enabled: false).
    cases[("GET", "/v1/tak/status")] = Case(lambda _a: ("/v1/tak/status", None), ok, ok)
    cases.update(_registry_cases(api))
    return cases


def _world(api: Api) -> dict[str, str]:
    """alpha's asset, movement, area and site; a check by alpha; a notification to alpha's
    cell (bravo's check HOLDs on alpha's asset)."""
    coord_a = api.as_(api.tokens.coord_a)
    for path, body in _objects():
        r = api.client.post(path, json=body, headers=coord_a)
        assert r.status_code == 201, r.text
    r = api.client.post(
        "/v1/reports",
        json=[
            {
                "asset_id": "a-asset",
                "time": now_iso(-1),
                "position": {"lat": 48.5, "lon": 35.5},
                "cep_m": 10,
            }
        ],
        headers=coord_a,
    )
    assert r.status_code in (200, 201), r.text
    check = api.client.post(
        "/v1/checks", json=check_body("a-drones", 48.5, 35.5), headers=api.as_(api.tokens.op_a)
    )
    assert check.status_code == 201, check.text
    hold = api.client.post(
        "/v1/checks", json=check_body("b-team", 48.5, 35.5), headers=api.as_(api.tokens.op_b)
    )
    assert hold.json()["verdict"] == "HOLD"
    inbox = api.client.get("/v1/units/a-cell/notifications", headers=coord_a).json()
    notification = next(n["id"] for n in inbox["items"] if n["cause"] == "hold_on_your_asset")
    return {"check": check.json()["id"], "notification": notification}


def _objects() -> list[tuple[str, dict[str, Any]]]:
    return [
        (
            "/v1/assets",
            {"id": "a-asset", "party_id": "alpha", "type_id": "sam-w", "callsign": "A1"},
        ),
        (
            "/v1/movements",
            {
                "id": "a-mv",
                "asset_id": "a-asset",
                "route": {"type": "LineString", "coordinates": [[35.1, 48.1], [35.2, 48.2]]},
                "corridor_m": 100,
                "start": now_iso(),
                "end": now_iso(600),
            },
        ),
        (
            "/v1/areas",
            {
                "id": "a-area",
                "party_id": "alpha",
                "kind": "operating",
                "geometry": {"type": "Polygon", "coordinates": [BOX_A]},
                "start": now_iso(),
                "end": now_iso(600),
                "asset_ids": ["a-asset"],
            },
        ),
        (
            "/v1/sites",
            {
                "id": "a-site",
                "party_id": "alpha",
                "kind": "hospital",
                "position": {"lat": 48.3, "lon": 35.3},
                "radius_m": 100,
            },
        ),
    ]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Any:
    # The matrix's webhooks point at loopback: the operator's allow-list lets them through.
    loopback = (ip_network("127.0.0.0/8"),)
    with running_api(tmp_path_factory.mktemp("authz") / "d", webhook_allow=loopback) as api:
        yield api


def test_every_endpoint_times_every_role_times_own_and_other_party(api: Api) -> None:
    ids = _world(api)
    cases = _cases(api, ids)
    # Every rule has a row (the SSE stream has its own test below: it never ends).
    stream = ("GET", "/v1/units/{unit_id}/notifications/stream")
    assert set(policy.RULES) - {stream} == set(cases), set(policy.RULES) ^ set(cases)
    tokens = {
        "admin": api.tokens.admin,
        "coord_own": api.tokens.coord_a,
        "op_own": api.tokens.op_a,
        "coord_other": api.tokens.coord_b,
        "op_other": api.tokens.op_b,
    }
    failures = []
    for (method, template), case in sorted(cases.items()):
        rule = policy.RULES[(method, template)]
        for caller in CALLERS:
            path, body = case.prepare(api)
            headers = api.as_(tokens[caller]) if caller in tokens else {}
            r = api.client.request(method, path, json=body, headers=headers)
            want = case.expected(caller, rule)
            if r.status_code not in want:
                failures.append(
                    f"{method} {path} as {caller}: {r.status_code} not in {want}: {r.text[:160]}"
                )
            if r.status_code >= 400 and r.headers.get("content-type", "").startswith(
                "application/json"
            ):
                assert "error" in r.json(), (method, path, caller)
    assert not failures, "\n".join(failures)


def test_the_stream_follows_its_rule(api: Api) -> None:
    """The SSE stream for the denials (an allowed stream never ends; integration tests read it)."""
    path = "/v1/units/a-drones/notifications/stream"
    assert api.client.get(path).status_code == 401
    for token in (api.tokens.coord_b, api.tokens.op_b):
        assert api.client.get(path, headers=api.as_(token)).status_code == 404
    # Alpha's coordinator cell operator may not read the drone team's stream.
    r = api.client.get("/v1/units/a-cell/notifications/stream", headers=api.as_(api.tokens.op_a))
    assert r.status_code == 403
