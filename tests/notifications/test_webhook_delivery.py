"""Webhook delivery with DNS answers the test controls (docs/design/security.md, "Webhook
destinations"): the app in process over a real store, the dispatcher's resolver replaced by
a stub, endpoints real HTTP(S) servers on loopback. The address is judged after resolution
and pinned for the connection, so a name that resolves inside, or resolves elsewhere the
second time (rebinding), is refused before anything connects.

Nothing here may leave the machine: :func:`tests.support.netguard.loopback_only` refuses (and
records) every connection and name lookup that is not loopback, in every thread.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address, ip_network
from pathlib import Path
from typing import Any

import httpx
import pytest

from deconfliction.notifications.webhook_connect import (
    REFUSED,
    Connector,
    DeliveryFailed,
    DestinationRefused,
    PinnedSession,
)
from deconfliction.notifications.webhook_destinations import Address, DestinationPolicy
from deconfliction.tak.pki import ensure_server_pki
from tests.support.api_support import Api, running_api
from tests.support.netguard import loopback_only
from tests.support.world import asset, now_iso

pytestmark = pytest.mark.unit

INTO_A = [[36.6, 48.5], [35.5, 48.5]]
HOOKS = "/v1/units/a-drones/webhooks"
NAME = "hooks.example.test"


class StubResolver:
    """DNS answers from a table the test changes as it goes; records every question."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def resolve(self, host: str, port: int) -> Sequence[Address]:
        self.asked.append(host)
        return [ip_address(a) for a in self.answers.get(host, [])]


class Endpoint:
    """A real HTTP(S) endpoint on loopback: records each POST (headers, body) and each
    TLS server name a client asked for; counts the connections it accepted."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.received: list[dict[str, str]] = []
        self.server_names: list[str | None] = []
        self.connections = 0
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def setup(self) -> None:
                endpoint.connections += 1
                super().setup()

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                endpoint.received.append(dict(self.headers))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:

            def named(sock: Any, name: str | None, _ctx: Any) -> None:
                endpoint.server_names.append(name)

            tls.sni_callback = named
            self.http.socket = tls.wrap_socket(self.http.socket, server_side=True)
        self.port = int(self.http.server_address[1])
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def last_position(self) -> int:
        """The stream position of the last delivery received (its delivery id's tail)."""
        return max(int(h["X-Deconfliction-Delivery"].split(":")[1]) for h in self.received)

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    e = Endpoint()
    yield e
    e.close()


@pytest.fixture
def guard() -> Iterator[list[str]]:
    with loopback_only() as refused:
        yield refused


def _api(tmp_path: Path, allow: str | None) -> Any:
    return running_api(
        tmp_path / "data",
        webhook_allow=(ip_network(allow),) if allow else (),
        webhook_retry_base_s=0.05,
    )


def _register(api: Api, url: str) -> dict[str, Any]:
    r = api.client.post(HOOKS, json={"url": url}, headers=api.as_(api.tokens.coord_a))
    assert r.status_code == 201, r.text
    return dict(r.json())


def _movement_into_a(api: Api, mid: str) -> None:
    """Bravo's asset moves into a-drones' area: an arrival and a briefing for a-drones."""
    if api.client.get("/v1/assets/b-sam", headers=api.as_(api.tokens.admin)).status_code == 404:
        made = api.client.post(
            "/v1/assets",
            json=asset("b-sam", "bravo", releasable_to=["alpha"]),
            headers=api.as_(api.tokens.admin),
        )
        assert made.status_code == 201, made.text
    body = {
        "id": mid,
        "asset_id": "b-sam",
        "route": {"type": "LineString", "coordinates": INTO_A},
        "corridor_m": 200,
        "start": now_iso(),
        "end": now_iso(4 * 3600),
    }
    r = api.client.post("/v1/movements", json=body, headers=api.as_(api.tokens.coord_b))
    assert r.status_code == 201, r.text


def _state(api: Api, until: Any, timeout: float = 30.0) -> dict[str, Any]:
    """The webhook's state once ``until(state)`` holds (or at the deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        r = api.client.get(HOOKS, headers=api.as_(api.tokens.coord_a))
        (state,) = r.json()["items"]
        if until(state) or time.monotonic() > deadline:
            return dict(state)
        time.sleep(0.05)


def test_a_name_resolving_inside_is_refused_and_nothing_connects(
    tmp_path: Path, endpoint: Endpoint, guard: list[str]
) -> None:
    # A public-looking name whose answer is a private address, and one whose answer is
    # loopback, where a real endpoint listens: neither is allowed, nothing connects.
    for answer in ("10.1.2.3", "127.0.0.1"):
        with _api(tmp_path / answer, allow=None) as api:
            stub = StubResolver({NAME: [answer]})
            api.uc.webhooks.dispatcher.connector.resolver = stub
            _register(api, f"http://{NAME}:{endpoint.port}/hook")
            _movement_into_a(api, "b-move")
            state = _state(api, lambda s: s["last_error"] is not None)
            assert state["last_error"] == REFUSED, state
            assert state["delivered_seq"] == 0
            assert NAME in stub.asked
    assert endpoint.connections == 0 and not endpoint.received
    assert guard == []


def test_a_second_answer_elsewhere_is_refused_rebinding(
    tmp_path: Path, endpoint: Endpoint, guard: list[str]
) -> None:
    # The first answer is an allowed address (the operator allows loopback here, where
    # the endpoint listens); the second is a private one: refused, and nothing connects.
    with _api(tmp_path, allow="127.0.0.0/8") as api:
        stub = StubResolver({NAME: ["127.0.0.1"]})
        api.uc.webhooks.dispatcher.connector.resolver = stub
        _register(api, f"http://{NAME}:{endpoint.port}/hook")
        _movement_into_a(api, "b-move")
        # Both events received and acknowledged (the cursor at the last one received).
        first = _state(
            api,
            lambda s: (
                len(endpoint.received) >= 2 and s["delivered_seq"] == endpoint.last_position()
            ),
        )
        assert first["last_error"] is None and len(endpoint.received) == 2, first
        # Pinned to the checked address, with the name in the Host header.
        assert {h["Host"] for h in endpoint.received} == {f"{NAME}:{endpoint.port}"}
        connections = endpoint.connections

        stub.answers[NAME] = ["10.9.8.7"]
        _movement_into_a(api, "b-move-2")
        later = _state(api, lambda s: s["last_error"] is not None)
        assert later["last_error"] == REFUSED, later
        assert later["delivered_seq"] == first["delivered_seq"]
        assert endpoint.connections == connections and len(endpoint.received) == 2
        assert stub.asked.count(NAME) >= 2
    assert guard == []


@pytest.fixture
def tls_endpoint(tmp_path: Path) -> Iterator[tuple[Endpoint, ssl.SSLContext]]:
    """An HTTPS endpoint whose certificate (of a test CA) names NAME, localhost and
    127.0.0.1; and a client context that trusts only that CA."""
    pki = ensure_server_pki(tmp_path / "pki", NAME)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(pki.server_cert, pki.server_key)
    endpoint = Endpoint(tls=server)
    yield endpoint, ssl.create_default_context(cafile=str(pki.ca_cert))
    endpoint.close()


def test_https_is_pinned_and_verified_for_the_name_not_the_address(
    tls_endpoint: tuple[Endpoint, ssl.SSLContext], guard: list[str]
) -> None:
    endpoint, trust = tls_endpoint
    other = "other.example.test"
    stub = StubResolver({NAME: ["127.0.0.1"], other: ["127.0.0.1"]})
    policy = DestinationPolicy((ip_network("127.0.0.0/8"),))
    connector = Connector(policy, stub, timeout_s=10.0, ssl_context=trust)
    with connector.open(f"https://{NAME}:{endpoint.port}/hook") as session:
        assert session.address == ip_address("127.0.0.1")
        session.post(b"{}", {"Content-Type": "application/json"})
    assert endpoint.server_names == [NAME]
    assert endpoint.received[-1]["Host"] == f"{NAME}:{endpoint.port}"
    # The certificate also covers 127.0.0.1: a check against the address would pass. It is
    # checked against the name, which it does not cover: delivery failed, no details.
    with (
        connector.open(f"https://{other}:{endpoint.port}/hook") as session,
        pytest.raises(DeliveryFailed) as failed,
    ):
        session.post(b"{}", {})
    assert failed.value.shown == "delivery failed"
    assert endpoint.server_names == [NAME, other] and len(endpoint.received) == 1
    assert guard == []


def test_the_connection_is_refused_unless_its_host_is_the_checked_address(
    endpoint: Endpoint, guard: list[str]
) -> None:
    stub = StubResolver({NAME: ["127.0.0.1"]})
    allowing = DestinationPolicy((ip_network("127.0.0.0/8"),))
    connector = Connector(allowing, stub, timeout_s=10.0)
    url = f"http://{NAME}:{endpoint.port}/hook"
    with connector.open(url) as session:
        # Whatever URL a request ends up with, only the pinned address is connected to.
        session.pinned_url = session.pinned_url.copy_with(host="127.0.0.2")
        with pytest.raises(DestinationRefused):
            session.post(b"{}", {})
    # A policy that does not allow the pinned address refuses at the connection too.
    pinned = PinnedSession(
        httpx.URL(url),
        ip_address("127.0.0.1"),
        DestinationPolicy(),
        10.0,
        ssl.create_default_context(),
    )
    with pinned, pytest.raises(DestinationRefused):
        pinned.post(b"{}", {})
    assert endpoint.connections == 0
    # Every answer refused, or no answer at all: the same words, before any connection.
    for answers in ([], ["127.0.0.1", "::1"], ["0.0.0.0"]):
        stub.answers[NAME] = answers
        with pytest.raises(DestinationRefused) as refused:
            Connector(DestinationPolicy(), stub, timeout_s=10.0).open(url)
        assert refused.value.shown == REFUSED
    assert endpoint.connections == 0
    assert guard == []
