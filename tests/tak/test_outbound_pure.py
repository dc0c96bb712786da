"""TAK outbound, the pure parts: notification chats and codes, arrival markers, the
picture's events, check replies, and a client feed's coalescing and rate limit."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deconfliction.cot.affiliation import assert_not_hostile
from deconfliction.cot.commands import parse_chat_command
from deconfliction.cot.event import UNKNOWN, CotEvent, Point
from deconfliction.cot.notices import (
    arrival_marker,
    check_reply_text,
    code_matches,
    notification_code,
    notification_text,
)
from deconfliction.cot.picture import Picture, delete_event, signature
from deconfliction.cot.xml import parse_event, render_event
from deconfliction.tak.feed import ClientFeed
from tests.support.clock import FIXED_NOW

pytestmark = pytest.mark.unit

HORIZON = timedelta(hours=6)
NID = "ntf_019c8a1b2c3d4e5f60718293a4b5c6d7"


def arrival(**extra: Any) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": NID,
        "unit_id": "a-drones",
        "cause": "announced_arrival",
        "urgent": False,
        "state": "pending",
        "deadline": "2026-03-01T12:30:00Z",
        "answers": ["acknowledged"],
        "message": "Bastion-2 (Skyshield-W) can enter the area of a-drones from 13:00Z.",
        "asset": {"id": "b-1", "callsign": "Bastion-2"},
        "details_withheld": False,
        "owner_party_id": "bravo",
        "contact": "Bravo hotline",
        "card": {
            "name": "Skyshield-W",
            "sidc": None,
            "profile": {"mobility": "wheeled", "axles": 4, "features": ["radar"]},
            "variant_of": {"type_id": "sam-t", "name": "Skyshield-T"},
            "looks_like": [{"type_id": "r-9", "name": "Radar R-9", "cue": "launcher rails"}],
        },
        "window": {"start": "2026-03-01T12:00:00Z", "end": "2026-03-01T15:00:00Z"},
        "entry": {"at": "2026-03-01T13:00:00Z", "position": {"lat": 48.5, "lon": 36.0}},
    }
    view.update(extra)
    return view


def test_the_code_is_the_tail_of_the_id_and_matches_longer_tails() -> None:
    code = notification_code(NID)
    assert code == "B5C6D7"
    assert code_matches(NID, code) and code_matches(NID, code.lower())
    assert code_matches(NID, NID) and code_matches(NID, "a4b5c6d7")
    assert not code_matches(NID, "C6D7")  # too short to name one
    assert not code_matches(NID, "B5C6D8")
    command = parse_chat_command(f"ack {code.lower()}")  # what a user types, any case
    assert code_matches(NID, command.code)  # type: ignore[union-attr]


def test_an_arrival_chat_carries_cause_asset_type_cue_deadline_and_how_to_answer() -> None:
    text = notification_text(arrival(), now=FIXED_NOW)
    assert text.startswith("ANNOUNCED ARRIVAL [B5C6D7]")
    assert "Asset: Bastion-2 (Skyshield-W)" in text
    assert "looks like Radar R-9: launcher rails" in text
    assert "Variant of Skyshield-T" in text
    # Issue 24: the time as HH:MMZ with how far it is, not the raw RFC 3339 instant.
    assert "Answer by 12:30Z (in 30 min): reply ACK B5C6D7" in text
    assert "never approved" in text
    answered = notification_text(
        arrival(state="answered", response={"response": "acknowledged", "by": "Sgt A"}),
        "answered",
    )
    assert "Answered acknowledged by Sgt A" in answered and "reply" not in answered


def test_a_withheld_arrival_names_no_asset() -> None:
    text = notification_text(
        arrival(asset=None, details_withheld=True, message="A Skyshield-W of bravo can enter")
    )
    assert "Bastion-2" not in text and "b-1" not in text
    assert "details withheld; a Skyshield-W of bravo" in text
    marker = arrival_marker(arrival(asset=None, details_withheld=True), "military", FIXED_NOW)
    assert marker is not None and "Bastion-2" not in render_event(marker).decode()


@pytest.mark.parametrize(
    ("sidc", "kind", "prefix"),
    [
        (None, "military", "a-f-G"),
        (None, "humanitarian", "a-n-G"),
        ("SHGPUCDM--", "military", "a-f-G-U-C-D-M"),  # a hostile SIDC is never trusted
        ("SFGPUCDM--", "humanitarian", "a-n-G-U-C-D-M"),
    ],
)
def test_the_arrival_marker_is_friendly_or_neutral_at_the_entry(
    sidc: str | None, kind: str, prefix: str
) -> None:
    view = arrival()
    view["card"]["sidc"] = sidc
    marker = arrival_marker(view, kind, FIXED_NOW)
    assert marker is not None
    assert marker.type == prefix
    assert (marker.point.lat, marker.point.lon) == (48.5, 36.0)
    assert marker.stale == datetime(2026, 3, 1, 15, 0, tzinfo=UTC)  # the window's end
    assert marker.uid == f"deconfliction.arrival.{NID}"
    assert parse_event(render_event(marker)) == marker


def test_no_marker_without_an_entry_point_or_after_the_window() -> None:
    assert (
        arrival_marker(arrival(entry={"at": "x", "position": None}), "military", FIXED_NOW) is None
    )
    assert arrival_marker(arrival(), "military", FIXED_NOW + timedelta(hours=4)) is None
    assert arrival_marker(arrival(cause="recognition_briefing"), "military", FIXED_NOW) is None


def test_a_check_reply_gives_verdict_reasons_valid_until_and_never_clears() -> None:
    hold = check_reply_text(
        {
            "id": "chk_1",
            "verdict": "HOLD",
            "valid_until": "2026-03-01T12:05:00Z",
            "match_count": 3,
            "matches": [
                {"reasons": ["Bastion-2, wheeled SAM, 1 km away"], "details_withheld": False},
                {"reasons": [], "details_withheld": True, "party_id": "c", "contact": "hotline"},
            ],
            "coverage_gaps": [{"party_id": "d", "reason": "no report for 7 h"}],
        }
    )
    assert hold.startswith("CHECK HOLD (valid until 2026-03-01T12:05:00Z; id chk_1)")
    assert "Bastion-2, wheeled SAM" in hold and "details withheld, party c" in hold
    assert "… 1 more" in hold and "Coverage gap: d" in hold
    none = check_reply_text({"verdict": "NO_KNOWN_MATCH", "valid_until": "t", "matches": []})
    assert "not a clearance" in none


# --- the picture -------------------------------------------------------------------------


def feature(layer: str, geometry: dict[str, Any], **props: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": f"{layer}:x-1",
        "geometry": geometry,
        "properties": {"layer": layer, "id": "x-1", "party_id": "alpha", **props},
    }


PICTURE = Picture({"alpha": "military", "ngo": "humanitarian"}, HORIZON)


def only(events: list[CotEvent]) -> CotEvent:
    assert len(events) == 1, events
    event = events[0]
    assert parse_event(render_event(event)).uid == event.uid  # renders and parses back
    return event


def test_an_asset_marker_has_its_type_its_error_and_the_horizon_as_stale() -> None:
    reported = FIXED_NOW - timedelta(minutes=20)
    event = only(
        PICTURE.events(
            feature(
                "asset",
                {"type": "Point", "coordinates": [35.5, 48.5]},
                callsign="Blue-7",
                sidc="SFGPUCDM--",
                time=reported.isoformat(),
                cep_m=11.774,
                speed_kmh=36.0,
                course_deg=90.0,
                source="authenticated",
            ),
            FIXED_NOW,
        )
    )
    assert event.uid == "deconfliction.asset.x-1"
    assert event.type == "a-f-G-U-C-D-M"
    assert event.start == reported and event.stale == reported + HORIZON
    assert event.point.ce == pytest.approx(10.0)  # 1-sigma: CEP / 1.1774
    assert event.detail.speed == pytest.approx(10.0)  # m/s
    assert event.detail.callsign == "Blue-7"
    past = feature(
        "asset",
        {"type": "Point", "coordinates": [35.5, 48.5]},
        time=(FIXED_NOW - HORIZON - timedelta(seconds=1)).isoformat(),
    )
    assert PICTURE.events(past, FIXED_NOW) == []  # past the horizon it stands for nothing
    ngo = feature(
        "asset",
        {"type": "Point", "coordinates": [35.5, 48.5]},
        time=reported.isoformat(),
    )
    ngo["properties"]["party_id"] = "ngo"
    assert only(PICTURE.events(ngo, FIXED_NOW)).type == "a-n-G"


def test_movements_areas_and_sites_become_routes_drawings_and_markers() -> None:
    window = {"start": FIXED_NOW.isoformat(), "end": (FIXED_NOW + timedelta(hours=2)).isoformat()}
    route = only(
        PICTURE.events(
            feature(
                "movement",
                {"type": "LineString", "coordinates": [[35.0, 48.0], [35.5, 48.2], [36.0, 48.4]]},
                corridor_m=500,
                **window,
            ),
            FIXED_NOW,
        )
    )
    assert route.type == "b-m-r" and route.stale == FIXED_NOW + timedelta(hours=2)
    assert route.detail.extra_xml.count('type="b-m-p-w"') == 3
    ring = [[35.0, 48.0], [36.0, 48.0], [36.0, 49.0], [35.0, 48.0]]
    area = only(
        PICTURE.events(
            feature("area", {"type": "Polygon", "coordinates": [ring]}, kind="protected", **window),
            FIXED_NOW,
        )
    )
    assert area.type == "u-d-f" and area.detail.extra_xml.count("<link ") == 4
    two = PICTURE.events(
        feature(
            "area", {"type": "MultiPolygon", "coordinates": [[ring], [ring]]}, kind="x", **window
        ),
        FIXED_NOW,
    )
    assert [e.uid for e in two] == ["deconfliction.area.x-1.0", "deconfliction.area.x-1.1"]
    site = only(
        PICTURE.events(
            feature("site", {"type": "Point", "coordinates": [35.5, 48.5]}, radius_m=200), FIXED_NOW
        )
    )
    assert site.type == "a-f-G-I" and 'major="200.0"' in site.detail.extra_xml
    ended = feature("movement", route_geometry(), start="2026-01-01T00:00:00Z", end="2026-01-02")
    assert PICTURE.events(ended, FIXED_NOW) == []
    assert PICTURE.events(feature("aor", route_geometry()), FIXED_NOW) == []  # not part of the feed


def route_geometry() -> dict[str, Any]:
    return {"type": "LineString", "coordinates": [[35.0, 48.0], [36.0, 48.0]]}


def test_a_site_is_the_same_marker_when_only_its_times_move() -> None:
    site = feature("site", {"type": "Point", "coordinates": [35.5, 48.5]}, radius_m=50)
    a = only(PICTURE.events(site, FIXED_NOW))
    b = only(PICTURE.events(site, FIXED_NOW + timedelta(minutes=1)))
    assert signature(a) == signature(b)
    delete = delete_event(a.uid, FIXED_NOW)
    assert delete.type == "t-x-d-d" and delete.detail.links[0].uid == a.uid
    assert parse_event(render_event(delete)).detail.links[0].uid == a.uid


@given(
    sidc=st.one_of(st.none(), st.text(max_size=20), st.sampled_from(["SHGP", "SSGP", "SUGP"])),
    kind=st.sampled_from(["military", "civil", "humanitarian", "weird"]),
    layer=st.sampled_from(["asset", "site"]),
)
def test_the_picture_never_emits_a_hostile_type(sidc: str | None, kind: str, layer: str) -> None:
    picture = Picture({"alpha": kind}, HORIZON)
    props: dict[str, Any] = {"sidc": sidc, "time": FIXED_NOW.isoformat(), "radius_m": 1}
    for event in picture.events(
        feature(layer, {"type": "Point", "coordinates": [0.0, 0.0]}, **props), FIXED_NOW
    ):
        assert assert_not_hostile(event.type) == event.type
        assert event.type.startswith(("a-f", "a-n"))


# --- a client feed: coalescing and the rate limit, over a real loopback connection ---------


def marker(uid: str, lat: float) -> CotEvent:
    return CotEvent(
        uid=uid,
        type="a-f-G",
        how="h-e",
        time=FIXED_NOW,
        start=FIXED_NOW,
        stale=FIXED_NOW + HORIZON,
        point=Point(lat, 0.0, UNKNOWN, 1.0, UNKNOWN),
    )


def test_a_feed_coalesces_by_uid_and_paces_the_picture() -> None:
    async def main() -> tuple[bytes, ClientFeed]:
        received = bytearray()
        done = asyncio.Event()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while chunk := await reader.read(65536):
                received.extend(chunk)
                if received.count(b"</event>") >= 4:
                    done.set()
                    return

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        delivered: list[int] = []
        feed = ClientFeed(
            writer, "client", delivered=lambda _c, seq: delivered.append(seq), rate=50, burst=1
        )
        # Three updates of one uid before the writer runs: only the newest goes out.
        feed.push_picture([marker("u-1", 1.0), marker("u-1", 2.0)])
        feed.push_picture([marker("u-1", 3.0), marker("u-2", 1.0), marker("u-3", 1.0)])
        feed.push_messages([marker("chat-1", 0.0)], "notification", seq=7)
        task = asyncio.ensure_future(feed.run())
        await asyncio.wait_for(done.wait(), 30)
        task.cancel()
        writer.close()
        server.close()
        assert delivered == [7]
        return bytes(received), feed

    data, feed = asyncio.run(main())
    events = [parse_event(part + b"</event>") for part in data.split(b"</event>")[:-1]]
    assert events[0].uid == "chat-1"  # messages first, never paced
    assert [(e.uid, e.point.lat) for e in events[1:]] == [
        ("u-1", 3.0),
        ("u-2", 1.0),
        ("u-3", 1.0),
    ]
    assert feed.counters.sent["coalesced"] == 2
    assert feed.counters.sent["picture"] == 3 and feed.counters.sent["notification"] == 1
    assert feed.counters.sent["rate_limited"] >= 1  # a burst of one: the others waited


def test_document_times_that_are_not_times_give_none() -> None:
    from deconfliction.cot.event import document_time

    assert document_time("2026-11-25T10:00:00Z") == datetime(2026, 11, 25, 10, tzinfo=UTC)
    assert document_time("2026-11-25T10:00:00") == datetime(2026, 11, 25, 10, tzinfo=UTC)
    for bad in (None, 5, "", "yesterday", "2026-02-30T00:00:00Z", ["2026-11-25"]):
        assert document_time(bad) is None
