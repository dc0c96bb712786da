"""Credentials die with their unit, and revoked credentials are cut everywhere (issue 15,
findings 4 and 9), over the real server: the SSE stream of a token revoked with the CLI
ends and never delivers what came after; a deleted unit's tokens, stream, TAK connection
and webhooks die, and its id is never reissued, to another party or the same one.
docs/design/security.md, "Credentials die with their unit"."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.support.live import Server, free_port, run_cli, store_at
from tests.support.notification_world import INTO_A, World, bearer
from tests.support.tak import Receiver, issue_client, wait_for
from tests.support.webhook_endpoint import ALLOW_LOOPBACK, Endpoint
from tests.support.world import asset, unit

pytestmark = pytest.mark.integration

#: How long a test waits for what must happen within a second or two (a generous deadline,
#: not a measured duration).
DEADLINE_S = 15.0
BOX = [[35.0, 48.0], [36.0, 48.0], [36.0, 49.0], [35.0, 49.0], [35.0, 48.0]]


class StreamReader:
    """A unit's SSE stream read on a thread of its own: every event, and whether it ended."""

    def __init__(self, server: Server, unit_id: str, token: str) -> None:
        self.events: list[dict[str, Any]] = []
        self.ended = threading.Event()
        self.status: int | None = None
        self._http = httpx.Client(base_url=server.url, timeout=httpx.Timeout(60.0))
        self._url = f"/v1/units/{unit_id}/notifications/stream"
        self._token = token
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        try:
            with self._http.stream("GET", self._url, headers=bearer(self._token)) as response:
                self.status = response.status_code
                fields: dict[str, str] = {}
                for line in response.iter_lines():
                    if line == "":
                        if "data" in fields:
                            self.events.append(orjson.loads(fields["data"]))
                        fields = {}
                    elif not line.startswith(":"):
                        key, _, value = line.partition(":")
                        fields[key] = value.removeprefix(" ")
        except httpx.HTTPError:
            pass  # closed by the test
        finally:
            self.ended.set()

    def subjects(self) -> list[str]:
        return [(e["notification"].get("subject") or {}).get("id", "") for e in self.events]

    def close(self) -> None:
        self._http.close()


@pytest.fixture
def server_env() -> dict[str, str]:
    """The webhook endpoints of these tests are on loopback, which the operator allows."""
    return ALLOW_LOOPBACK


@pytest.fixture
def tak_server(data_dir: Path) -> Iterator[Server]:
    """A server with the TAK (TLS) port on (loopback webhooks allowed, as above)."""
    srv = Server(data_dir, "--cot-tls-port", str(free_port()), env=ALLOW_LOOPBACK)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def _tls_port(server: Server) -> int:
    return int(server.args[server.args.index("--cot-tls-port") + 1])


def test_a_token_revoked_with_the_cli_ends_its_open_stream_and_gets_nothing_after(
    world: World,
    data_dir: Path,
) -> None:
    for aid in ("b-1", "b-2"):
        world.post("/v1/assets", asset(aid, "bravo", releasable_to=["*"]))
    world.movement("before", "b-1", INTO_A)
    stream = StreamReader(world.server, "a-drones", world.op_a)
    other = StreamReader(world.server, "a-drones", world.coord_a)  # not revoked
    try:
        wait_for(lambda: "before" in stream.subjects(), DEADLINE_S)
        assert stream.status == 200 and not stream.ended.is_set()

        revoked = run_cli("token", "revoke", world.op_a, "--data-dir", str(data_dir))
        assert revoked.returncode == 0, revoked.stderr
        world.movement("after", "b-2", INTO_A)  # a new notification for the unit

        assert stream.ended.wait(DEADLINE_S), "the revoked token's stream is still open"
        wait_for(lambda: "after" in other.subjects(), DEADLINE_S)  # it was sent, to others
        assert "after" not in stream.subjects()
        assert not other.ended.is_set()
        # HTTP answers from a token cache of at most one second (service/auth.py): the
        # revoked token is refused once that second has passed, whenever the stream ended.
        wait_for(
            lambda: (
                world.http.get(
                    "/v1/units/a-drones/notifications", headers=bearer(world.op_a)
                ).status_code
                == 401
            ),
            DEADLINE_S,
        )
    finally:
        stream.close()
        other.close()


def test_a_token_revoked_with_the_cli_stops_the_webhooks_it_registered(
    world: World,
    data_dir: Path,
) -> None:
    stolen_endpoint, kept_endpoint = Endpoint(), Endpoint()
    try:
        for endpoint in (stolen_endpoint, kept_endpoint):
            r = world.http.post(
                "/v1/units/a-drones/webhooks",
                json={"url": endpoint.url},
                headers=bearer(world.coord_a if endpoint is stolen_endpoint else world.admin),
            )
            assert r.status_code == 201, r.text
        world.post("/v1/assets", asset("b-1", "bravo", releasable_to=["*"]))
        world.post("/v1/assets", asset("b-2", "bravo", releasable_to=["*"]))
        world.movement("before", "b-1", INTO_A)
        stolen_endpoint.wait_for(2)

        revoked = run_cli("token", "revoke", world.coord_a, "--data-dir", str(data_dir))
        assert revoked.returncode == 0, revoked.stderr
        world.movement("after", "b-2", INTO_A)

        def subjects(endpoint: Endpoint) -> set[str]:
            return {
                (d["notification"].get("subject") or {}).get("id", "")
                for d in endpoint.delivered().values()
            }

        wait_for(lambda: "after" in subjects(kept_endpoint), DEADLINE_S)
        assert "after" not in subjects(stolen_endpoint)
        hooks = world.http.get("/v1/units/a-drones/webhooks").json()["items"]
        assert [h["url"] for h in hooks] == [kept_endpoint.url]
    finally:
        stolen_endpoint.http.shutdown()
        kept_endpoint.http.shutdown()


def test_a_deleted_units_tokens_stream_tak_connection_and_webhooks_die_and_its_id_is_never_reissued(
    tak_server: Server, data_dir: Path, tmp_path: Path
) -> None:
    w = World(tak_server, data_dir)
    endpoint = Endpoint()
    try:
        r = w.http.post(
            "/v1/units/a-drones/webhooks", json={"url": endpoint.url}, headers=bearer(w.admin)
        )
        assert r.status_code == 201, r.text
        w.post("/v1/assets", asset("b-1", "bravo", releasable_to=["*"]))
        w.movement("before", "b-1", INTO_A)
        endpoint.wait_for(2)
        stream = StreamReader(tak_server, "a-drones", w.op_a)
        wait_for(lambda: "before" in stream.subjects(), DEADLINE_S)
        issued = issue_client(data_dir, "a-drones", tmp_path / "a-drones-cert")
        receiver = Receiver(_tls_port(tak_server), issued)  # a pytak client of the unit
        wait_for(lambda: "connected as unit a-drones" in tak_server.log(), DEADLINE_S)

        assert w.http.delete("/v1/units/a-drones").status_code == 204

        # Its TAK connection is closed, its stream ends, its tokens are 401.
        receiver._thread.join(DEADLINE_S)  # it returns when the server closes the connection
        assert not receiver._thread.is_alive(), "the deleted unit's TAK connection is open"
        assert stream.ended.wait(DEADLINE_S), "the deleted unit's stream is still open"
        stream.close()
        with w.server.client(w.op_a) as op:
            wait_for(lambda: op.get("/v1/parties").status_code == 401, DEADLINE_S)
        # Its webhooks are gone with it.
        with store_at(data_dir) as store:
            assert store.list_webhooks("a-drones") == []

        # Its id is never reissued: not to another party, not to the same one, not by an
        # admin; the refusal names the field and is the one an id in use gets.
        in_use = w.http.post("/v1/units", json=unit("a-cell", "bravo", BOX))
        for body, token in (
            (unit("a-drones", "bravo", BOX), w.coord_b),
            (unit("a-drones", "alpha", BOX), w.coord_a),
            (unit("a-drones", "alpha", BOX), w.admin),
        ):
            refused = w.http.post("/v1/units", json=body, headers=bearer(token))
            assert refused.status_code == 409, refused.text
            error = refused.json()["error"]
            assert error["field"] == "id" and error["code"] == "already_exists"
            assert "a-drones" in error["message"]
            assert error["message"] == in_use.json()["error"]["message"].replace(
                "a-cell", "a-drones"
            )
        # Its certificate stays dead: the unit it names can never exist again.
        again = Receiver(_tls_port(tak_server), issued)
        again._thread.join(DEADLINE_S)
        assert not again._thread.is_alive(), "a deleted unit's certificate was let in"
        # No token can be issued for it, so none can read its old inbox.
        issued_again = run_cli(
            "token",
            "issue",
            "--role",
            "operator",
            "--unit",
            "a-drones",
            "--data-dir",
            str(data_dir),
        )
        assert issued_again.returncode != 0
        for token in (w.op_b, w.coord_b):
            r = w.http.get("/v1/units/a-drones/notifications", headers=bearer(token))
            assert r.status_code == 404
    finally:
        endpoint.http.shutdown()
