"""Webhooks over the real server and a real HTTP endpoint: signed, in order, retried with
back-off, at least once, resumed after a restart from the stored cursor; access rules; the
destination rules (internal addresses refused unless allowed, no redirects, what
``last_error`` may say). Every endpoint is on loopback, so these servers allow 127.0.0.0/8
(``--webhook-allow``); ``tests/notifications/test_webhook_delivery.py`` controls DNS
answers in process."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.support.live import Server, free_port
from tests.support.notification_world import INTO_A, World, bearer
from tests.support.webhook_endpoint import ALLOW_LOOPBACK, Endpoint
from tests.support.world import asset

pytestmark = pytest.mark.integration

SECRET = "a-test-secret-of-enough-length"


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    e = Endpoint(failures=2)
    yield e
    e.http.shutdown()


@pytest.fixture
def fast_retry(data_dir: Path) -> Iterator[Server]:
    srv = Server(data_dir, env={"DECONFLICTION_WEBHOOK_RETRY_BASE_S": "0.05", **ALLOW_LOOPBACK})
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def _signed(headers: dict[str, str], body: bytes) -> bool:
    mac = hmac.new(
        SECRET.encode(),
        headers["X-Deconfliction-Timestamp"].encode() + b"." + body,
        hashlib.sha256,
    ).hexdigest()
    return hmac.compare_digest(headers["X-Deconfliction-Signature"], "sha256=" + mac)


def test_a_units_notifications_reach_its_endpoint_signed_in_order_despite_failures(
    fast_retry: Server, data_dir: Path, endpoint: Endpoint
) -> None:
    world = World(fast_retry, data_dir)
    r = world.http.post(
        "/v1/units/a-drones/webhooks",
        json={"url": endpoint.url, "secret": SECRET},
        headers=bearer(world.coord_a),
    )
    assert r.status_code == 201, r.text
    hook = r.json()
    assert hook["secret"] == SECRET and hook["unit_id"] == "a-drones"
    world.post("/v1/assets", asset("b-sam", "bravo", releasable_to=["alpha"]))
    world.movement("b-move", "b-sam", INTO_A)
    got = endpoint.wait_for(2)
    causes = sorted(d["notification"]["cause"] for d in got.values())
    assert causes == ["announced_arrival", "recognition_briefing"]
    positions = [d["position"] for d in got.values()]
    assert positions == sorted(positions)
    # The endpoint failed twice: the first event came three times, same delivery id.
    first = min(got, key=lambda k: got[k]["position"])
    tries = [h for h, _ in endpoint.received if h["X-Deconfliction-Delivery"] == first]
    assert len(tries) == 3
    for headers, body in endpoint.received:
        assert _signed(headers, body)
        assert orjson.loads(body)["webhook_id"] == hook["id"]
    # The cursor is stored once the endpoint's answer is in, just after it received the body.
    deadline = time.monotonic() + 30
    while True:
        listed = world.http.get("/v1/units/a-drones/webhooks", headers=bearer(world.coord_a))
        (state,) = listed.json()["items"]
        if state["delivered_seq"] == max(positions) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert "secret" not in state
    assert state["delivered_seq"] == max(positions) and state["attempts"] == 0

    # A restart resumes from the stored cursor: nothing acknowledged is sent again.
    fast_retry.stop()
    fast_retry.start()
    before = len(endpoint.received)
    acknowledged = set(endpoint.delivered())
    world.http.close()
    world.http = fast_retry.client(world.admin)
    world.movement("b-move-2", "b-sam", INTO_A)
    got = endpoint.wait_for(len(acknowledged) + 2)  # its arrival; the briefing again
    later = {h["X-Deconfliction-Delivery"] for h, _ in endpoint.received[before:]}
    assert later and not later & acknowledged
    assert any(got[k]["notification"].get("subject", {}).get("id") == "b-move-2" for k in later)
    world.http.close()


def test_only_the_units_coordinators_manage_its_webhooks(
    fast_retry: Server, data_dir: Path, endpoint: Endpoint
) -> None:
    world = World(fast_retry, data_dir)
    url = "/v1/units/a-drones/webhooks"
    body = {"url": endpoint.url}
    assert world.http.post(url, json=body, headers=bearer(world.op_a)).status_code == 403
    assert world.http.post(url, json=body, headers=bearer(world.coord_b)).status_code == 404
    bad = world.http.post(url, json={"url": "ftp://x"}, headers=bearer(world.coord_a))
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "url"
    short = world.http.post(
        url, json={"url": endpoint.url, "secret": "short"}, headers=bearer(world.coord_a)
    )
    assert short.status_code == 422 and short.json()["error"]["field"] == "secret"
    for bad, field in (
        ({"url": endpoint.url, "after": -1}, "after"),
        ({"url": endpoint.url, "after": True}, "after"),
        ({"url": endpoint.url, "colour": "red"}, "colour"),
        ({"url": "http://"}, "url"),
        ({"url": "x" * 3000}, "url"),
        ({"url": endpoint.url, "secret": 12345678901234567}, "secret"),
    ):
        r = world.http.post(url, json=bad, headers=bearer(world.coord_a))
        assert r.status_code == 422 and r.json()["error"]["field"] == field, (bad, r.text)
    not_object = world.http.post(url, json=[1], headers=bearer(world.coord_a))
    assert not_object.status_code == 422, not_object.text
    # Nothing refused was stored.
    assert world.http.get(url, headers=bearer(world.coord_a)).json()["items"] == []
    made = world.http.post(url, json=body, headers=bearer(world.coord_a)).json()
    assert len(made["secret"]) >= 16  # generated, shown once
    gone = world.http.delete(f"/v1/webhooks/{made['id']}", headers=bearer(world.coord_b))
    assert gone.status_code == 404
    ok = world.http.delete(f"/v1/webhooks/{made['id']}", headers=bearer(world.coord_a))
    assert ok.status_code == 204
    assert world.http.get(url, headers=bearer(world.coord_a)).json()["items"] == []
    world.http.close()


#: URLs aimed inside, in the spellings a caller may try.
INSIDE = [
    "http://127.0.0.1:1/x",
    "http://127.1:22/",
    "http://2130706433/",
    "http://0x7f.0.0.1/",
    "http://localhost:8080/v1/health",
    "http://LOCALHOST./",
    "http://api.localhost/",
    "http://[::1]:5432/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://0.0.0.0:8080/",
    "http://[::]/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fe80::1]/",
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "https://192.168.1.1/",
    "http://[fd00::1]/",
    "http://100.64.0.1/",
    "http://224.0.0.1/",
    "http://255.255.255.255/",
    "http://[64:ff9b::7f00:1]/",
    "http://[2002:7f00:1::]/",
    "http://192.0.2.1/",
]


def test_webhooks_aimed_inside_are_refused_naming_the_url(server: Server, data_dir: Path) -> None:
    world = World(server, data_dir)
    hooks = "/v1/units/a-drones/webhooks"
    for url in INSIDE:
        r = world.http.post(hooks, json={"url": url}, headers=bearer(world.coord_a))
        assert r.status_code == 422, (url, r.text)
        error = r.json()["error"]
        assert error["field"] == "url" and "refused" in error["message"], (url, error)
    # Nothing refused was stored, and the server goes on serving.
    assert world.http.get(hooks, headers=bearer(world.coord_a)).json()["items"] == []
    assert world.http.get("/v1/health").status_code == 200
    world.http.close()


def test_the_operators_allow_list_lets_its_networks_through_only(
    fast_retry: Server, data_dir: Path
) -> None:
    world = World(fast_retry, data_dir)
    hooks = "/v1/units/a-drones/webhooks"
    for url in ("http://127.0.0.1:1/x", "http://127.1:22/", "http://[::ffff:127.0.0.1]/"):
        r = world.http.post(hooks, json={"url": url}, headers=bearer(world.coord_a))
        assert r.status_code == 201, (url, r.text)
    for url in ("http://[::1]/", "http://10.0.0.1/", "http://169.254.169.254/"):
        r = world.http.post(hooks, json={"url": url}, headers=bearer(world.coord_a))
        assert r.status_code == 422 and r.json()["error"]["field"] == "url", (url, r.text)
    world.http.close()


def _last_error(world: World, timeout: float = 30.0) -> dict[str, Any]:
    """The webhook's state once a delivery has failed."""
    deadline = time.monotonic() + timeout
    while True:
        r = world.http.get("/v1/units/a-drones/webhooks", headers=bearer(world.coord_a))
        (state,) = r.json()["items"]
        if state["last_error"] is not None or time.monotonic() > deadline:
            return dict(state)
        time.sleep(0.05)


def test_a_redirect_is_never_followed(fast_retry: Server, data_dir: Path) -> None:
    target = Endpoint()
    redirecting = Endpoint(redirect_to=target.url)
    try:
        world = World(fast_retry, data_dir)
        r = world.http.post(
            "/v1/units/a-drones/webhooks",
            json={"url": redirecting.url},
            headers=bearer(world.coord_a),
        )
        assert r.status_code == 201, r.text
        world.post("/v1/assets", asset("b-sam", "bravo", releasable_to=["alpha"]))
        world.movement("b-move", "b-sam", INTO_A)
        state = _last_error(world)
        assert state["last_error"] == "delivery failed (HTTP 302)"
        assert state["delivered_seq"] == 0
        assert redirecting.received and not target.received
        world.http.close()
    finally:
        redirecting.http.shutdown()
        target.http.shutdown()


def test_last_error_tells_no_connection_details(fast_retry: Server, data_dir: Path) -> None:
    world = World(fast_retry, data_dir)
    closed = free_port()  # nothing listens there: the connection is refused
    r = world.http.post(
        "/v1/units/a-drones/webhooks",
        json={"url": f"http://127.0.0.1:{closed}/hook"},
        headers=bearer(world.coord_a),
    )
    assert r.status_code == 201, r.text
    world.post("/v1/assets", asset("b-sam", "bravo", releasable_to=["alpha"]))
    world.movement("b-move", "b-sam", INTO_A)
    state = _last_error(world)
    # Not "Connection refused", no errno, no address, no port: only that it failed.
    assert state["last_error"] == "delivery failed", state
    assert "Errno" in fast_retry.log() or "ConnectError" in fast_retry.log()  # the log has it
    world.http.close()
