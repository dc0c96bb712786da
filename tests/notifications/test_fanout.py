"""A movement across more AORs than one chunk: planned in chunks, each unit told once,
completed after a crash cut it short, and stopped when the movement changed meanwhile."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from deconfliction.notifications.fanout import CHUNK
from deconfliction.service.access import SYSTEM
from deconfliction.service.config import Settings
from deconfliction.service.kinds import MOVEMENT
from deconfliction.store import open_store
from deconfliction.usecases import UseCases
from tests.support import backends

pytestmark = pytest.mark.unit

UNITS = 2 * CHUNK + 137
LON0, LON1 = 30.0, 31.0


def _box(lat: float, lon: float, half: float) -> dict[str, Any]:
    ring = [
        [lon - half, lat - half],
        [lon + half, lat - half],
        [lon + half, lat + half],
        [lon - half, lat + half],
        [lon - half, lat - half],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


def _world(data_dir: Path) -> None:
    store = open_store(data_dir, backends.database_url(data_dir))
    try:
        with store.transaction():
            for pid in ("owner", "other"):
                party = {"id": pid, "name": pid, "kind": "military", "contact": "net"}
                store.create("party", pid, pid, party, "t")
            kind = {"id": "w", "name": "Wheeled", "profile": {"mobility": "wheeled"}}
            store.create("equipment_type", "w", None, {**kind, "max_speed_kmh": 60}, "t")
            asset = {"id": "convoy", "party_id": "owner", "type_id": "w", "callsign": "Convoy"}
            store.create("asset", "convoy", "owner", asset, "t")
            for i in range(UNITS):
                lon = LON0 + (LON1 - LON0) * (i + 0.5) / UNITS
                unit = {
                    "id": f"u{i:04d}",
                    "party_id": "other",
                    "name": f"Unit {i}",
                    "aor": _box(50.0, lon, 0.004),
                }
                store.create("unit", unit["id"], "other", unit, "t")
            store.create(
                "unit", "far", "other", {**unit, "id": "far", "aor": _box(52, 30, 0.01)}, "t"
            )
    finally:
        store.close()


def _movement(end_h: float = 6.0) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "id": "mv",
        "asset_id": "convoy",
        "route": {"type": "LineString", "coordinates": [[LON0 - 0.01, 50.0], [LON1 + 0.01, 50.0]]},
        "corridor_m": 100,
        "start": (now + timedelta(hours=1)).isoformat(),
        "end": (now + timedelta(hours=end_h)).isoformat(),
    }


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "d"
    _world(d)
    return d


def _open(data_dir: Path) -> UseCases:
    uc = UseCases.open(Settings(data_dir=data_dir, database_url=backends.database_url(data_dir)))
    return uc


def _arrivals(uc: UseCases) -> list[dict[str, Any]]:
    return uc.service.store.find_notifications(cause="announced_arrival", limit=10**6)


@pytest.fixture
def uc(data_dir: Path) -> Iterator[UseCases]:
    u = _open(data_dir)
    u.service.load_now()
    yield u
    u.service.close()


def test_a_large_fanout_is_planned_in_chunks_and_tells_each_unit_once(
    uc: UseCases, monkeypatch: pytest.MonkeyPatch
) -> None:
    transactions = []
    writing = uc.service.writing

    def counted() -> Any:
        transactions.append(1)
        return writing()

    monkeypatch.setattr(uc.service, "writing", counted)
    uc.registry.create(SYSTEM, MOVEMENT, _movement())
    rows = _arrivals(uc)
    assert sorted(r["unit_id"] for r in rows) == [f"u{i:04d}" for i in range(UNITS)]
    # The write's own transaction (with the first chunk), then one per further chunk.
    assert len(transactions) == 3
    briefings = uc.service.store.find_notifications(cause="recognition_briefing", limit=10**6)
    assert len(briefings) == UNITS


def test_a_fanout_cut_short_is_completed_at_the_next_start(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uc = _open(data_dir)
    uc.service.load_now()
    try:
        # As if the process died after the write committed, before the rest was planned.
        monkeypatch.setattr(uc.service, "drain", lambda: None)
        uc.registry.create(SYSTEM, MOVEMENT, _movement())
        assert len(_arrivals(uc)) == CHUNK
    finally:
        uc.service.close()
    uc = _open(data_dir)
    try:
        uc.service.load_now()  # re-plans every movement to come, telling nothing twice
        rows = _arrivals(uc)
        assert sorted(r["unit_id"] for r in rows) == [f"u{i:04d}" for i in range(UNITS)]
        briefings = uc.service.store.find_notifications(cause="recognition_briefing", limit=10**6)
        assert len(briefings) == UNITS
    finally:
        uc.service.close()


def test_a_movement_changed_midway_is_planned_once_in_its_new_form(
    uc: UseCases, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(uc.service, "drain", lambda: None)
    uc.registry.create(SYSTEM, MOVEMENT, _movement(end_h=6))
    uc.registry.replace(SYSTEM, MOVEMENT, "mv", _movement(end_h=8))
    monkeypatch.undo()
    uc.service.drain()  # the first version's job stops; the second's goes on
    rows = _arrivals(uc)
    assert sorted(r["unit_id"] for r in rows) == [f"u{i:04d}" for i in range(UNITS)]
    assert {r["payload"]["window"]["end"][:13] for r in rows} == {
        datetime.fromisoformat(_movement(end_h=8)["end"]).strftime("%Y-%m-%dT%H")
    }
