"""TAK uids bind within the reporting certificate's party, and plain-port reports are bounded
(issue 15, findings 2 and 10; docs/design/security.md, "TAK uids and plain-port reports").

Against the real server with the CoT gateway on (TLS and UDP on loopback): TLS clients with
certificates the CLI issued for a unit of alpha (party W of the finding) and of bravo (party
C), real UDP datagrams to the plain port, and checks over HTTP. Each test uses uids and assets
of its own.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from deconfliction.tak.plain_limits import SOURCE_BURST, SOURCE_PER_S, UID_BURST, UID_PER_S
from tests.support.live import Server, free_port, issue, store_at
from tests.support.tak import (
    Issued,
    cot,
    issue_client,
    send_and_close,
    summary_for,
    tls_connect,
    wait_for,
)
from tests.support.world import BOX_B, asset, check_body, report, seed, unit

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

W_HOME = (48.5, 35.5)  # alpha's box
C_HOME = (48.5, 36.5)  # bravo's box
FAR_AWAY = (10.0, 10.0)  # nothing anywhere near


@dataclass
class World:
    server: Server
    data_dir: Path
    tls_port: int
    udp_port: int
    admin: str
    coord_a: str
    op_a: str
    coord_b: str
    op_b: str
    alpha: Issued
    bravo: Issued

    def register(
        self, token: str, asset_id: str, party: str, uid: str, at: tuple[float, float]
    ) -> dict[str, Any]:
        """An asset bound to ``uid`` with an authenticated report at ``at`` (HTTP)."""
        with self.server.client(token) as c:
            r = c.post("/v1/assets", json=asset(asset_id, party) | {"cot_uid": uid})
            assert r.status_code == 201, r.text
            created: dict[str, Any] = r.json()
            r = c.post("/v1/reports", json=[report(asset_id, *at, delta_s=-30)])
            assert r.status_code == 200, r.text
        return created

    def check(self, token: str, unit_id: str, at: tuple[float, float]) -> dict[str, Any]:
        with self.server.client(token) as c:
            r = c.post("/v1/checks", json=check_body(unit_id, *at))
        assert r.status_code == 201, r.text
        answer: dict[str, Any] = r.json()
        return answer

    def holds(self, token: str, unit_id: str, asset_id: str, at: tuple[float, float]) -> bool:
        answer = self.check(token, unit_id, at)
        return answer["verdict"] == "HOLD" and asset_id in {m["id"] for m in answer["matches"]}

    def udp_totals(self) -> dict[str, Any]:
        """The gateway's totals (plain UDP events are counted there), as an admin sees them."""
        with self.server.client(self.admin) as c:
            r = c.get("/v1/tak/status")
        assert r.status_code == 200, r.text
        totals: dict[str, Any] = r.json()["closed_totals"]
        return totals

    def _accounted(self) -> tuple[int, int]:
        """Datagrams seen on the UDP port, and outcomes counted (every transport's)."""
        totals = self.udp_totals()
        return int(totals["events"].get("udp", 0)), sum(totals["counts"].values())

    def send_udp(self, datagrams: list[bytes], chunk: int = 50) -> None:
        """Send over a real socket to the plain port, a chunk at a time, each chunk taken
        before the next (so the kernel's receive buffer never drops one); return once every
        datagram is accounted for by an outcome."""
        seen0, counted0 = self._accounted()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            for start in range(0, len(datagrams), chunk):
                for datagram in datagrams[start : start + chunk]:
                    udp.sendto(datagram, ("127.0.0.1", self.udp_port))
                sent = min(len(datagrams), start + chunk)
                wait_for(lambda sent=sent: self._accounted()[0] - seen0 >= sent, timeout=30)
        wait_for(lambda: self._accounted()[1] - counted0 >= len(datagrams), timeout=30)

    def stored_reports(self, asset_id: str, source: str) -> int:
        with store_at(self.data_dir) as store:
            return sum(
                1
                for row in store.reports_between("1970-01-01T00:00:00Z", "2100-01-01T00:00:00Z")
                if row["asset_id"] == asset_id and row["source"] == source
            )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("takuids")
    data_dir = root / "data"
    tls_port, udp_port = free_port(), free_port()
    server = Server(
        data_dir, "--cot-tls-port", str(tls_port), "--cot-udp-port", str(udp_port)
    ).start()
    try:
        admin = issue(data_dir, "admin")
        with server.client(admin) as client:
            seed(client, admin)
            r = client.post("/v1/units", json=unit("b-cell", "bravo", BOX_B, cell=True))
            assert r.status_code == 201, r.text
        yield World(
            server=server,
            data_dir=data_dir,
            tls_port=tls_port,
            udp_port=udp_port,
            admin=admin,
            coord_a=issue(data_dir, "coordinator", "a-cell"),
            op_a=issue(data_dir, "operator", "a-drones"),
            coord_b=issue(data_dir, "coordinator", "b-cell"),
            op_b=issue(data_dir, "operator", "b-team"),
            alpha=issue_client(data_dir, "a-drones", root / "alpha"),
            bravo=issue_client(data_dir, "b-team", root / "bravo"),
        )
    finally:
        server.stop()


def _send_tls(world: World, issued: Issued, data: bytes) -> dict[str, Any]:
    """Send over a TLS client of ``issued``'s unit; the connection's counters once closed."""
    sock = tls_connect(world.tls_port, issued.context())
    port = sock.getsockname()[1]
    send_and_close(sock, data)
    return summary_for(world.server, port)


# --- finding 2: a TAK uid binds within the certificate's party -----------------------------


def test_another_partys_asset_with_the_same_uid_neither_freezes_nor_takes_the_track(
    world: World,
) -> None:
    uid = "ANDROID-w-lead"
    world.register(world.coord_a, "w-lead", "alpha", uid, W_HOME)
    # Party C registers an asset with W's uid (seen on the air).
    world.register(world.coord_b, "c-copy", "bravo", uid, C_HOME)
    # W's own TLS report still moves W's asset (it was dropped as ambiguous_uid).
    w_moved = (48.6, 35.5)
    summary = _send_tls(world, world.alpha, cot(uid, *w_moved))
    assert summary["reports"] == 1 and summary["rejected"] == {}, summary
    wait_for(lambda: world.holds(world.op_a, "a-drones", "w-lead", w_moved))
    # C's TLS report with the uid moves C's asset, and only C's.
    c_moved = (48.6, 36.5)
    summary = _send_tls(world, world.bravo, cot(uid, *c_moved))
    assert summary["reports"] == 1 and summary["rejected"] == {}, summary
    wait_for(lambda: world.holds(world.op_b, "b-team", "c-copy", c_moved))
    assert world.holds(world.op_a, "a-drones", "w-lead", w_moved)
    assert not world.holds(world.op_a, "a-drones", "w-lead", c_moved)
    assert not world.holds(world.op_b, "b-team", "c-copy", w_moved)


def test_using_a_uid_of_another_party_reveals_nothing(world: World) -> None:
    world.register(world.coord_a, "w-secret", "alpha", "ANDROID-w-secret", W_HOME)
    # Registering W's uid and a fresh one: the same answer, field for field.
    dup = world.register(world.coord_b, "c-dup", "bravo", "ANDROID-w-secret", C_HOME)
    fresh = world.register(world.coord_b, "c-fresh", "bravo", "ANDROID-c-fresh", C_HOME)
    assert set(dup) == set(fresh)
    assert {k: v for k, v in dup.items() if k not in ("id", "callsign", "cot_uid")} == {
        k: v for k, v in fresh.items() if k not in ("id", "callsign", "cot_uid")
    }
    # Reporting a uid only W uses, and one nobody uses: both simply unbound for C.
    world.register(world.coord_a, "w-only", "alpha", "ANDROID-w-only", W_HOME)
    summary = _send_tls(
        world, world.bravo, cot("ANDROID-w-only", *C_HOME) + cot("ANDROID-nobody-has", *C_HOME)
    )
    assert summary["rejected"] == {"unbound_uid": 2}, summary
    with world.server.client(world.coord_b) as c:
        unbound = {u["uid"]: u for u in c.get("/v1/tak/status").json()["unbound"]}
    a, b = unbound["ANDROID-w-only"], unbound["ANDROID-nobody-has"]
    assert set(a) == set(b) and a["count"] == b["count"] == 1
    # W's asset never moved.
    assert world.holds(world.op_a, "a-drones", "w-only", W_HOME)


def test_a_uid_is_unique_within_its_party(world: World) -> None:
    world.register(world.coord_a, "w-unique", "alpha", "ANDROID-w-unique", W_HOME)
    with world.server.client(world.coord_a) as c:
        body = asset("w-unique-2", "alpha") | {"cot_uid": "ANDROID-w-unique"}
        r = c.post("/v1/assets", json=body)
        assert r.status_code == 409, r.text
        error = r.json()["error"]
        assert error["code"] == "cot_uid_in_use" and error["field"] == "cot_uid"
        assert "w-unique" in error["message"]
        assert c.get("/v1/assets/w-unique-2").status_code == 404  # nothing stored
        # Changing another asset to the uid is refused the same way; keeping one's own is not.
        assert c.post("/v1/assets", json=asset("w-other", "alpha")).status_code == 201
        r = c.put("/v1/assets/w-other", json=asset("w-other", "alpha") | body | {"id": "w-other"})
        assert r.status_code == 409 and r.json()["error"]["field"] == "cot_uid", r.text
        same = asset("w-unique", "alpha") | {"cot_uid": "ANDROID-w-unique", "callsign": "New"}
        assert c.put("/v1/assets/w-unique", json=same).status_code == 200


def test_a_plain_report_for_a_uid_bound_in_two_parties_widens_both(world: World) -> None:
    uid = "ANDROID-shared-plain"
    world.register(world.coord_a, "w-shared", "alpha", uid, W_HOME)
    world.register(world.coord_b, "c-shared", "bravo", uid, (48.5, 35.52))
    spot = (48.52, 35.51)  # about 2 km from each
    assert not world.holds(world.op_a, "a-drones", "w-shared", spot)
    assert not world.holds(world.op_b, "b-team", "c-shared", spot)
    world.send_udp([cot(uid, *spot)])
    wait_for(lambda: world.holds(world.op_a, "a-drones", "w-shared", spot))
    wait_for(lambda: world.holds(world.op_b, "b-team", "c-shared", spot))
    # Neither moved: both still found at their authenticated positions.
    assert world.holds(world.op_a, "a-drones", "w-shared", W_HOME)
    assert world.holds(world.op_b, "b-team", "c-shared", (48.5, 35.52))


# --- finding 10: plain-port reports bounded -------------------------------------------------


@pytest.mark.parametrize(
    ("name", "datagram_at", "ce", "reason"),
    [
        # Past the physical range of every CoT edge (a CEP over 100 km): refused by the codec.
        ("huge-ce", W_HOME, 9_999_998.0, "invalid:point.ce"),
        # In range, but vaguer than a plain report may be (CEP 5.9 km > 2 km).
        ("vague-ce", W_HOME, 5_000.0, "implausible_error"),
        ("1e307-ce", W_HOME, 1e307, None),  # refused, by the error bound or the codec's range
        ("antipode", (-48.5, -144.5), 1.0, "implausible_position"),
    ],
)
def test_one_plain_datagram_cannot_widen_an_asset_over_the_globe(
    world: World, name: str, datagram_at: tuple[float, float], ce: float, reason: str | None
) -> None:
    uid = f"ANDROID-globe-{name}"
    asset_id = f"w-globe-{name}"
    world.register(world.coord_a, asset_id, "alpha", uid, W_HOME)
    far = datagram_at if name == "antipode" else FAR_AWAY
    before = world.check(world.op_a, "a-drones", far)
    assert before["verdict"] == "NO_KNOWN_MATCH", before
    counts_before = dict(world.udp_totals()["counts"])
    world.send_udp([cot(uid, *datagram_at, ce=ce)])
    counts = world.udp_totals()["counts"]
    refused = {k: v - counts_before.get(k, 0) for k, v in counts.items()}
    refused = {k: v for k, v in refused.items() if v}
    assert "taken" not in refused, refused
    if reason is not None:
        assert refused == {reason: 1}, refused
    for at in (far, FAR_AWAY, (-30.0, 120.0)):
        answer = world.check(world.op_a, "a-drones", at)
        assert answer["verdict"] == "NO_KNOWN_MATCH", answer
    assert world.stored_reports(asset_id, "plain") == 0
    assert world.holds(world.op_a, "a-drones", asset_id, W_HOME)  # unchanged


def test_plain_reports_for_one_uid_are_rate_limited_and_their_rows_bounded(
    world: World,
) -> None:
    uid = "ANDROID-flood"
    world.register(world.coord_a, "w-flood", "alpha", uid, W_HOME)
    counts_before = world.udp_totals()["counts"]
    started = time.monotonic()
    # 100 datagrams, each a little farther out (each one beyond the reach would widen it).
    world.send_udp([cot(uid, W_HOME[0] + 0.001 + n * 0.0002, W_HOME[1]) for n in range(100)])
    elapsed = time.monotonic() - started
    stored = world.stored_reports("w-flood", "plain")
    assert 1 <= stored <= UID_BURST + UID_PER_S * elapsed + 1, (stored, elapsed)
    counts = world.udp_totals()["counts"]
    delta = {k: v - counts_before.get(k, 0) for k, v in counts.items()}
    # Every datagram is stored, refused by the limit, or changed nothing (within the reach).
    assert delta.get("rate_limited:uid", 0) >= 1, delta
    assert stored + delta.get("rate_limited:uid", 0) + delta.get("no_change", 0) == 100, delta


def test_plain_reports_from_one_source_are_rate_limited(world: World) -> None:
    n_uids = 150
    with world.server.client(world.coord_a) as c:
        for n in range(n_uids):
            body = asset(f"w-src-{n}", "alpha") | {"cot_uid": f"ANDROID-src-{n}"}
            assert c.post("/v1/assets", json=body).status_code == 201
        r = c.post(
            "/v1/reports", json=[report(f"w-src-{n}", *W_HOME, delta_s=-10) for n in range(n_uids)]
        )
        assert r.status_code == 200, r.text
    with store_at(world.data_dir) as store:
        before = store.count_reports()
    started = time.monotonic()
    # Four rounds over every uid, each farther out: 600 datagrams that would each widen.
    world.send_udp(
        [
            cot(f"ANDROID-src-{n}", W_HOME[0] + 0.005 * (k + 1), W_HOME[1])
            for k in range(4)
            for n in range(n_uids)
        ],
        chunk=100,
    )
    elapsed = time.monotonic() - started
    with store_at(world.data_dir) as store:
        stored = store.count_reports() - before
    assert stored <= SOURCE_BURST + SOURCE_PER_S * elapsed + 1, (stored, elapsed)
    assert world.udp_totals()["counts"].get("rate_limited:source", 0) >= 1


def test_many_hold_checks_tell_the_owner_once(world: World) -> None:
    with world.server.client(world.coord_b) as c:
        body = asset("c-held", "bravo", releasable_to=["alpha"])
        assert c.post("/v1/assets", json=body).status_code == 201
        assert c.post("/v1/reports", json=[report("c-held", 48.3, 35.3)]).status_code == 200
    for _ in range(8):  # every check still answers HOLD on it
        assert world.holds(world.op_a, "a-drones", "c-held", (48.3, 35.3))
    with world.server.client(world.coord_b) as c:
        r = c.get("/v1/units/b-cell/notifications", params={"state": "all"})
    assert r.status_code == 200, r.text
    notices = [
        n
        for n in r.json()["items"]
        if n["cause"] == "hold_on_your_asset" and n["asset"]["id"] == "c-held"
    ]
    assert len(notices) == 1, notices
