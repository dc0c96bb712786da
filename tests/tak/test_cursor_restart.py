"""The TAK cursor survives a restart (issue 26, item 3), over the real server, real TLS and
pytak receivers, on both backends.

Two devices of a drone team (a certificate each) receive notifications. One drops off, misses
some, comes back and receives those, and more are created while it is connected; the other
stays away from then on. The server is then killed (SIGKILL: no shutdown code runs) or
stopped (SIGTERM) and started again on the same data. Each device reconnecting receives
every outbox entry it had not received, none is lost, and nothing from before its stored
cursor comes again. In the SIGKILL case the stored
cursor is also moved back, as if the crash had come before its last write: what comes
again must be the same events, by uid, that the client already has (a TAK client keeps
one copy). docs/design/cot.md, "Cursors that survive a restart".
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.live import Server, free_port, issue, raw_sql, store_at
from tests.support.tak import Issued, Received, Receiver, cot, issue_client, wait_for
from tests.support.world import asset, seed

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # pytak's TLS options
]

UNIT = "a-drones"
DEVICE = "ANDROID-drones-restart"
DEVICE2 = "ANDROID-drones-away"
ROUTE_INTO_A = {"type": "LineString", "coordinates": [[36.6, 48.5], [35.4, 48.5]]}


class Team:
    """One server's world: bravo moves assets into alpha's AOR, alpha's drones are told."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data_dir = root / "data"
        self.tls_port = free_port()
        self.server = self._server().start()
        admin = issue(self.data_dir, "admin")
        with self.server.client() as client:
            seed(client, admin)
        self.admin = admin
        self.coord_b = issue(self.data_dir, "coordinator", "b-team")
        self.op_a = issue(self.data_dir, "operator", UNIT)
        self.drones: Issued = issue_client(self.data_dir, UNIT, root / "drones")
        self.drones2: Issued = issue_client(self.data_dir, UNIT, root / "drones2")
        self.moves = 0

    def _server(self) -> Server:
        return Server(self.data_dir, "--cot-tls-port", str(self.tls_port))

    def restart(self) -> None:
        self.server = self._server().start()

    def post(self, token: str, path: str, body: Any) -> Any:
        with self.server.client(token) as c:
            r = c.post(path, json=body)
        assert r.status_code in (200, 201), r.text
        return r.json()

    def get(self, token: str, path: str) -> Any:
        with self.server.client(token) as c:
            r = c.get(path)
        assert r.status_code == 200, r.text
        return r.json()

    def move_in(self, count: int) -> None:
        """``count`` bravo assets announce movements into alpha's AOR: notifications."""
        for _ in range(count):
            self.moves += 1
            aid = f"b-rst-{self.moves}"
            self.post(self.coord_b, "/v1/assets", asset(aid, "bravo", ["alpha"]))
            start = datetime.now(UTC) + timedelta(hours=1)
            self.post(
                self.coord_b,
                "/v1/movements",
                {
                    "id": f"b-rst-move-{self.moves}",
                    "asset_id": aid,
                    "route": ROUTE_INTO_A,
                    "corridor_m": 500,
                    "start": start.isoformat(),
                    "end": (start + timedelta(hours=3)).isoformat(),
                },
            )

    def outbox(self) -> list[dict[str, Any]]:
        """The unit's whole outbox as the store holds it: what its clients must receive."""
        with store_at(self.data_dir) as store:
            return store.outbox_after(UNIT, 0, 100_000)

    def stored_cursor(self, cert_id: str) -> int:
        with store_at(self.data_dir) as store:
            cursor = store.tak_cursor(cert_id)
        return -1 if cursor is None else cursor.seq

    def serial(self, device: str) -> str:
        """The serial of the certificate whose cursor addresses ``device``, once stored."""

        def stored() -> list[str]:
            with store_at(self.data_dir) as store:
                rows = store._fetch(
                    "SELECT cert_id FROM tak_cursors WHERE device_uid = ?", (device,)
                )
            return [str(r[0]) for r in rows]

        serials: list[str] = wait_for(stored)
        assert len(serials) == 1, serials
        return serials[0]


def hello(rx: Receiver, device: str, team: Team) -> None:
    """The device says who it is (a position report), as ATAK does on connecting."""
    rx.send(cot(device, 48.2, 35.2))
    wait_for(
        lambda: any(u["uid"] == device for u in team.get(team.admin, "/v1/tak/status")["unbound"])
    )


def message_ids(received: list[Received]) -> dict[str, str]:
    """GeoChat message id → event uid, of every chat received."""
    out: dict[str, str] = {}
    for event in received:
        chat = event.root.find("detail/__chat")
        if event.type == "b-t-f" and chat is not None and chat.get("messageId"):
            uid = out.setdefault(str(chat.get("messageId")), event.uid)
            assert uid == event.uid, "one message, one uid"
    return out


def expected_id(entry: dict[str, Any]) -> str:
    """The message id an outbox entry goes out under: the notification and its event, and
    the position for an event that recurs."""
    nid, event = entry["notification"]["id"], entry["event"]
    return f"{nid}.{event}" if event in ("created", "answered") else f"{nid}.{event}.{entry['seq']}"


def received_all(rx: Receiver, entries: list[dict[str, Any]]) -> dict[str, str]:
    want = {expected_id(e) for e in entries}

    def done() -> tuple[dict[str, str]] | None:
        got = message_ids(rx.received())
        return (got,) if want <= set(got) else None

    try:
        (found,) = wait_for(done, 30)
    except AssertionError:
        got = set(message_ids(rx.received()))
        raise AssertionError(f"missing {sorted(want - got)}") from None
    return found


@pytest.fixture
def team(tmp_path: Path) -> Iterator[Team]:
    t = Team(tmp_path)
    try:
        yield t
    finally:
        t.server.stop()


@pytest.mark.parametrize("stop", ["sigkill", "sigterm"])
def test_a_client_reconnecting_after_a_restart_gets_what_it_had_not_received(
    team: Team, stop: str
) -> None:
    # Two devices of the team connected; each says who it is, then is told of two arrivals.
    rx1 = Receiver(team.tls_port, team.drones)
    hello(rx1, DEVICE, team)
    away = Receiver(team.tls_port, team.drones2)
    hello(away, DEVICE2, team)
    team.move_in(2)
    phase_a = team.outbox()
    assert phase_a, "the movements told the drone team"
    got_a = received_all(rx1, phase_a)
    away_a = received_all(away, phase_a)
    rx1.close()
    away.close()  # the second device stays away until after the restart

    # Away: two more arrivals, and one of the first answered over HTTP (an ``answered``
    # entry, which the old restart behaviour, "the unit's unanswered notifications",
    # never sent).
    team.move_in(2)
    first = phase_a[0]["notification"]["id"]
    team.post(
        team.op_a,
        f"/v1/notifications/{first}/responses",
        {"by": "drones", "response": "acknowledged"},
    )
    phase_b = [e for e in team.outbox() if e["seq"] > phase_a[-1]["seq"]]
    assert any(e["event"] == "answered" for e in phase_b)

    # Back: it gets what it missed, and only that (its cursor in this process).
    rx2 = Receiver(team.tls_port, team.drones)
    got_b = received_all(rx2, phase_b)
    assert not set(got_b) & {expected_id(e) for e in phase_a}
    serial = team.serial(DEVICE)
    serial2 = team.serial(DEVICE2)
    assert team.stored_cursor(serial2) >= phase_a[-1]["seq"]
    wait_for(lambda: team.stored_cursor(serial) >= phase_b[-1]["seq"])  # written, not timed

    # Connected again: two more arrivals; then the server dies, whatever it had written.
    team.move_in(2)
    phase_c = [e for e in team.outbox() if e["seq"] > phase_b[-1]["seq"]]
    assert phase_c
    if stop == "sigkill":
        team.server.kill()
    else:
        team.server.stop()
    rx2.close()
    got_before = {**got_a, **message_ids(rx2.received())}
    stored = team.stored_cursor(serial)
    assert stored >= phase_b[-1]["seq"]
    if stop == "sigkill":  # as if the crash came before the last writes: the tail since A
        with raw_sql(team.data_dir) as sql:
            sql.execute(
                f"UPDATE tak_cursors SET seq = {int(phase_a[-1]['seq'])} WHERE cert_id = '{serial}'"
            )
        stored = phase_a[-1]["seq"]

    team.restart()
    # The device that was away gets exactly what was created since it left, none lost.
    back = Receiver(team.tls_port, team.drones2)
    try:
        got_back = received_all(back, phase_b + phase_c)
        assert not set(got_back) & set(away_a)
        assert all(DEVICE2 in uid for uid in got_back.values())  # addressed as before
    finally:
        back.close()

    # The device connected at the stop: what it had not received, at least once.
    rx3 = Receiver(team.tls_port, team.drones)
    try:
        after = [e for e in team.outbox() if e["seq"] > stored]
        got_after = received_all(rx3, after)  # everything after the stored cursor
        everything = team.outbox()
        assert len(everything) == len(phase_a) + len(phase_b) + len(phase_c)
        # None lost: every entry reached the client, before the restart or after it.
        missing = {expected_id(e) for e in everything} - set(got_before) - set(got_after)
        assert not missing
        # Each entry it had not received came after the restart.
        unseen = {expected_id(e) for e in everything} - set(got_before)
        assert unseen <= set(got_after)
        # Nothing from before the stored cursor came again (the old behaviour re-sent the
        # unit's unanswered notifications; phase A's were all delivered and stored).
        assert not set(got_after) & {expected_id(e) for e in everything if e["seq"] <= stored}
        # What came again is the same event: same uid, addressed to the same device.
        again = set(got_after) & set(got_before)
        if stop == "sigkill":
            assert again, "the rewound tail was sent again"
        for mid in again:
            assert got_after[mid] == got_before[mid]
            assert DEVICE in got_after[mid]
    finally:
        rx3.close()
