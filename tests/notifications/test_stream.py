"""The unit's live stream (server-sent events) read by a real HTTP client: live delivery,
and a reconnect with ``Last-Event-ID`` that misses nothing and repeats nothing."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.support.live import Server, issue
from tests.support.notification_world import ACK, INTO_A, World, bearer, of
from tests.support.world import asset, now_iso

pytestmark = pytest.mark.integration


def read_events(
    http: httpx.Client, unit_id: str, token: str, count: int, last_id: int | None = None
) -> list[dict[str, Any]]:
    """The next ``count`` events of a unit's stream (a read timeout fails the test)."""
    headers = bearer(token)
    if last_id is not None:
        headers["Last-Event-ID"] = str(last_id)
    events: list[dict[str, Any]] = []
    with http.stream(
        "GET",
        f"/v1/units/{unit_id}/notifications/stream",
        headers=headers,
        timeout=httpx.Timeout(10.0),
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        fields: dict[str, str] = {}
        for line in response.iter_lines():
            if line == "":
                if "data" in fields:
                    events.append(
                        {
                            "id": int(fields["id"]),
                            "event": fields["event"],
                            "data": orjson.loads(fields["data"]),
                        }
                    )
                    if len(events) == count:
                        break
                fields = {}
                continue
            if line.startswith(":"):
                continue
            key, _, value = line.partition(":")
            fields[key] = value[1:] if value.startswith(" ") else value
    return events


def test_sse_delivers_live_and_resumes_after_last_event_id_missing_nothing(
    world: World,
) -> None:
    for aid in ("b-1", "b-2", "b-3"):
        world.post("/v1/assets", asset(aid, "bravo", releasable_to=["*"]))
    world.movement("m1", "b-1", INTO_A)
    http = world.server.client()
    try:
        # What was sent before connecting: the arrival and the briefing, in order.
        first = read_events(http, "a-drones", world.op_a, 2)
        assert [e["event"] for e in first] == ["created", "created"]
        assert {e["data"]["notification"]["cause"] for e in first} == {
            "announced_arrival",
            "recognition_briefing",
        }
        assert first[0]["id"] < first[1]["id"]
        assert all(e["id"] == e["data"]["position"] for e in first)
        last = first[-1]["id"]

        # Live: a reader waits on the stream while a movement is registered.
        live: list[dict[str, Any]] = []
        reader = threading.Thread(
            target=lambda: live.extend(read_events(http, "a-drones", world.op_a, 2, last))
        )
        reader.start()
        world.movement("m2", "b-2", INTO_A)
        reader.join(20)
        assert not reader.is_alive()
        assert [e["event"] for e in live] == ["created", "repeated"]
        assert live[0]["data"]["notification"]["subject"]["id"] == "m2"
        assert live[1]["data"]["notification"]["cause"] == "recognition_briefing"
        assert len(live[1]["data"]["notification"]["arrivals"]) == 2
        last = live[-1]["id"]

        # Disconnected: another arrival, and an answer, happen meanwhile.
        world.movement("m3", "b-3", INTO_A)
        arrival_id = live[0]["data"]["notification"]["id"]
        assert world.answer(arrival_id, ACK, world.op_a).status_code == 201
        missed = read_events(http, "a-drones", world.op_a, 3, last)
        assert [e["event"] for e in missed] == ["created", "repeated", "answered"]
        assert missed[2]["data"]["notification"]["id"] == arrival_id
        assert missed[2]["data"]["notification"]["response"]["response"] == "acknowledged"
        assert all(e["id"] > last for e in missed)

        # The whole stream from the start: exactly what the three reads saw, nothing else.
        everything = read_events(http, "a-drones", world.op_a, 7)
        seen = [e["id"] for e in (*first, *live, *missed)]
        assert [e["id"] for e in everything] == seen == sorted(seen)
        # Another party's token does not find the unit's stream.
        r = http.get("/v1/units/a-drones/notifications/stream", headers=bearer(world.op_b))
        assert r.status_code == 404
        assert of([e["data"]["notification"] for e in everything], "escalation") == []
    finally:
        http.close()


def test_after_sigkill_each_stream_position_is_delivered_once(
    clocked: Server,
    data_dir: Path,
) -> None:
    w = World(clocked, data_dir)
    try:
        for aid in ("b-1", "b-2"):
            w.post("/v1/assets", asset(aid, "bravo", releasable_to=["*"]))
        w.movement("m1", "b-1", INTO_A)  # committed, then the process dies before delivery
    finally:
        w.http.close()
    clocked.kill()
    clocked.start()
    admin = issue(data_dir, "admin")
    op_a = issue(data_dir, "operator", "a-drones")
    with clocked.client(admin) as http:
        before = read_events(http, "a-drones", op_a, 2)
        again = read_events(http, "a-drones", op_a, 2)
        assert [e["id"] for e in before] == [e["id"] for e in again]
        assert [e["event"] for e in before] == ["created", "created"]
        body = {
            "id": "m2",
            "asset_id": "b-2",
            "route": {"type": "LineString", "coordinates": INTO_A},
            "corridor_m": 200,
            "start": now_iso(),
            "end": now_iso(3600),
        }
        assert http.post("/v1/movements", json=body).status_code == 201
        after = read_events(http, "a-drones", op_a, 2, before[-1]["id"])
        assert [e["event"] for e in after] == ["created", "repeated"]
        assert min(e["id"] for e in after) > before[-1]["id"]
        # Escalation timers were stored: they still fire after the restart.
        deadline = datetime.fromisoformat(after[0]["data"]["notification"]["deadline"])
        step = (deadline - datetime.now(UTC)).total_seconds() + 60
        r = http.post("/v1/test/clock", json={"advance_s": step})
        assert r.status_code == 200 and r.json()["escalated"] >= 2
