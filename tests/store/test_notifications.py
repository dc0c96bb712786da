"""Notifications and the outbox in the store, on both backends (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest

from deconfliction.store import NotFound, Store
from tests.support.clock import FIXED_NOW_STORED
from tests.support.stores import StoreFactory

pytestmark = pytest.mark.unit

AT = FIXED_NOW_STORED


@pytest.fixture
def store(store_factory: StoreFactory) -> Store:
    s: Store = store_factory()
    return s


def row(nid: str, unit: str | None = "u1", **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": nid,
        "unit_id": unit,
        "party_id": "p1",
        "cause": "announced_arrival",
        "asset_id": "a1",
        "type_id": "t1",
        "subject": "movement:m1",
        "payload": {"message": "hello", "card": {"name": "T1"}},
        "urgent": False,
        "deadline": "2026-03-01T12:30:00.000000Z",
        "state": "pending",
        "escalation_level": 0,
        "parent_id": None,
        "created_at": AT,
    }
    base.update(extra)
    return base


def test_a_single_notification_s_event_names_it(store: Store) -> None:
    before = store.last_event_seq()
    store.add_notifications([row("n1")], "test")
    (event,) = store.events(after_seq=before)
    assert (event.kind, event.action, event.object_id) == ("notification", "create", "n1")
    assert [n["id"] for n in event.payload["notifications"]] == ["n1"]


def test_notifications_are_stored_with_their_event_and_outbox_position(store: Store) -> None:
    before = store.last_event_seq()
    positions = store.add_notifications(
        [row("n1"), row("n2", unit="u2"), row("n3", unit=None)], "test"
    )
    assert positions[0] < positions[1] and positions[2] == 0
    events = store.events(after_seq=before)
    # One audit entry for the batch, carrying every row as stored.
    assert [(e.kind, e.action, e.object_id) for e in events] == [("notification", "create", None)]
    assert [n["id"] for n in events[0].payload["notifications"]] == ["n1", "n2", "n3"]
    # The card is stored once and referred to; the event carries it with the rows.
    stored_payload = events[0].payload["notifications"][0]["payload"]
    digest = stored_payload["card"]["$part"]
    assert stored_payload == {"message": "hello", "card": {"$part": digest}}
    assert events[0].payload["parts"] == {digest: {"name": "T1"}}
    got = store.get_notification("n1")
    assert got is not None
    assert got["payload"] == {"message": "hello", "card": {"name": "T1"}}
    assert got["urgent"] is False and got["response"] is None and got["state"] == "pending"
    assert [n["id"] for n in store.find_notifications(unit_id="u1")] == ["n1"]
    assert [n["id"] for n in store.find_notifications(subject="movement:m1")] == [
        "n1",
        "n2",
        "n3",
    ]
    assert store.find_notifications(causes=["escalation"]) == []
    assert [n["id"] for n in store.iter_notifications(["announced_arrival"])] == [
        "n1",
        "n2",
        "n3",
    ]
    page = store.outbox_after("u1")
    assert [(o["seq"], o["event"], o["notification"]["id"]) for o in page] == [
        (positions[0], "created", "n1")
    ]
    assert store.outbox_after("u1", positions[0]) == []
    assert store.last_outbox_seq() == positions[1]


def test_a_notification_and_its_write_commit_or_fail_together(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.add_notifications([row("n1")], "test")
        raise RuntimeError("the causing write failed")
    assert store.get_notification("n1") is None
    assert store.outbox_after("u1") == []


def test_the_first_answer_is_kept(store: Store) -> None:
    store.add_notifications([row("n1")], "test")
    stored, fresh = store.answer_notification("n1", "acknowledged", "Sgt A", "operator:u1", AT, "t")
    assert fresh and stored["state"] == "answered" and stored["responded_by"] == "Sgt A"
    again, fresh = store.answer_notification("n1", "briefed", "Sgt B", "operator:u1", AT, "t")
    assert not fresh and again["response"] == "acknowledged" and again["responded_by"] == "Sgt A"
    assert [o["event"] for o in store.outbox_after("u1")] == ["created", "answered"]
    assert store.find_notifications(answered=False) == []
    with pytest.raises(NotFound):
        store.answer_notification("nope", "acknowledged", "x", "y", AT, "t")


def test_deadlines_come_due_in_order_and_updates_reach_the_outbox(store: Store) -> None:
    store.add_notifications(
        [
            row("late", deadline="2026-03-01T13:00:00.000000Z"),
            row("soon", deadline="2026-03-01T12:10:00.000000Z"),
            row("never", deadline=None),
        ],
        "test",
    )
    assert store.next_deadline() == "2026-03-01T12:10:00.000000Z"
    assert store.due_notifications("2026-03-01T12:05:00.000000Z") == []
    due = store.due_notifications("2026-03-01T14:00:00.000000Z")
    assert [n["id"] for n in due] == ["soon", "late"]
    store.update_notification("soon", at=AT, actor="t", state="escalated", outbox_event="escalated")
    updated = store.update_notification(
        "late", at=AT, actor="t", payload={"message": "changed"}, deadline=AT
    )
    assert updated["payload"] == {"message": "changed"} and updated["deadline"] == AT
    assert [n["id"] for n in store.due_notifications("2026-03-01T14:00:00.000000Z")] == ["late"]
    assert [o["event"] for o in store.outbox_after("u1")][-1] == "escalated"
    with pytest.raises(NotFound):
        store.update_notification("nope", at=AT, actor="t", state="escalated")


def test_many_updates_are_one_event_and_reach_each_unit_s_stream(store: Store) -> None:
    store.add_notifications([row("n1"), row("n2", unit="u2"), row("n3", unit=None)], "test")
    before = store.last_event_seq()
    later = "2026-03-01T12:20:00.000000Z"
    updated = store.update_notifications(
        [
            ("n2", {"deadline": later, "payload": {"message": "changed"}}),
            ("n1", {"deadline": later, "payload": {"message": "changed too"}}),
            ("n3", {"state": "escalated"}),
        ],
        at=AT,
        actor="test",
        outbox_event="repeated",
    )
    assert [u["id"] for u in updated] == ["n2", "n1", "n3"]
    assert updated[0]["payload"] == {"message": "changed"} and updated[0]["deadline"] == later
    assert updated[2]["state"] == "escalated" and updated[2]["deadline"] != later
    (event,) = store.events(after_seq=before)
    assert (event.action, event.object_id) == ("update", None)
    assert [u["id"] for u in event.payload["updates"]] == ["n2", "n1", "n3"]
    # Each unit's stream carries its own again; the unit-less one has no stream.
    assert [o["event"] for o in store.outbox_after("u2")] == ["created", "repeated"]
    assert [o["event"] for o in store.outbox_after("u1")] == ["created", "repeated"]
    # An unknown id: nothing of the batch changes.
    with pytest.raises(NotFound):
        store.update_notifications(
            [("n1", {"state": "answered"}), ("nope", {"state": "answered"})], at=AT, actor="t"
        )
    n1 = store.get_notification("n1")
    assert n1 is not None and n1["state"] == "pending"
    assert store.update_notifications([], at=AT, actor="t") == []
    assert set(store.get_notifications(["n1", "n3", "nope"])) == {"n1", "n3"}


def test_cards_and_routes_are_stored_once_and_read_back_whole(store: Store) -> None:
    card = {"name": "T1", "profile": {"mobility": "wheeled"}}
    route = {"type": "LineString", "coordinates": [[30.0, 50.0], [31.0, 50.0]]}
    rows = [
        row(f"n{i}", unit=f"u{i}", payload={"message": f"m{i}", "card": card, "geometry": route})
        for i in range(50)
    ]
    rows.append(row("other", payload={"card": {"name": "T2"}, "geometry": None}))
    store.add_notifications(rows, "test")
    got = store.get_notifications([r["id"] for r in rows])
    assert got["n7"]["payload"] == {"message": "m7", "card": card, "geometry": route}
    assert got["other"]["payload"] == {"card": {"name": "T2"}, "geometry": None}
    # 51 payloads, three distinct values: three parts.
    parts = store._fetch("SELECT COUNT(*) FROM notification_parts")  # type: ignore[attr-defined]
    assert parts[0][0] == 3
    # Each read is a copy of its own: changing one changes no other.
    got["n1"]["payload"]["card"]["name"] = "changed"
    assert store.get_notification("n2")["payload"]["card"] == card  # type: ignore[index]
    # Through every read path: a list, the stream, the due list.
    (listed,) = store.find_notifications(unit_id="u3")
    assert listed["payload"]["geometry"] == route
    (streamed,) = store.outbox_after("u4")
    assert streamed["notification"]["payload"]["card"] == card
    due = store.due_notifications("2099-01-01T00:00:00.000000Z")
    assert all(d["payload"]["card"]["name"] in ("T1", "T2") for d in due)
    # An update's new payload is stored the same way; a new card is a new part.
    new_card = {"name": "T1", "profile": {"mobility": "tracked"}}
    store.update_notifications(
        [("n5", {"payload": {"message": "again", "card": new_card, "geometry": route}})],
        at=AT,
        actor="test",
    )
    assert store.get_notification("n5")["payload"]["card"] == new_card  # type: ignore[index]
    assert store.get_notification("n6")["payload"]["card"] == card  # type: ignore[index]
