"""Entries found while the index loads are told after it is ready, in chunks, once each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from deconfliction.domain.model import PositionReport
from deconfliction.service.config import Settings
from deconfliction.service.stored_form import report_row
from deconfliction.store import open_store
from deconfliction.usecases import UseCases
from tests.support import backends
from tests.support.store_world import SAM_W, write_asset, write_parties, write_unit
from tests.support.world import BOX_A

pytestmark = pytest.mark.unit

ASSETS = [f"b-{i}" for i in range(7)]


def _report(asset_id: str, lat: float, lon: float, at: datetime) -> PositionReport:
    return PositionReport.model_validate(
        {"asset_id": asset_id, "time": at, "position": {"lat": lat, "lon": lon}, "cep_m": 10}
    )


def _world(data_dir: Path, at: datetime) -> None:
    """Written as another process would (``import``): no planner ran on these writes."""
    store = open_store(data_dir, backends.database_url(data_dir))
    try:
        with store.transaction():
            write_parties(store, "alpha", "bravo")
            write_unit(store, "a-drones", "alpha", BOX_A)
            store.create("equipment_type", "sam-w", None, SAM_W, "t")
            for aid in ASSETS:
                write_asset(store, aid, "bravo")
        rows = [report_row(_report(a, 48.5, 35.5 + i * 0.01, at)) for i, a in enumerate(ASSETS)]
        store.add_reports(rows, "t")
    finally:
        store.close()


def test_the_load_backlog_is_told_in_chunks_once_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "d"
    at = datetime.now(UTC) - timedelta(minutes=1)
    _world(data_dir, at)
    uc = UseCases.open(Settings(data_dir=data_dir, database_url=backends.database_url(data_dir)))
    planner = uc.notifications.planner
    try:
        # Hold the backlog back at load, to see what happens before it is told.
        monkeypatch.setattr(planner, "drain", lambda: 0)
        uc.service.load_now()
        monkeypatch.undo()
        store = uc.service.store
        assert store.find_notifications(cause="unannounced_entry") == []
        # A report meanwhile, still inside: its episode is already open, nothing twice.
        with uc.service.lock:
            uc.reports.write([_report("b-0", 48.51, 35.5, at + timedelta(seconds=30))], "t")
        assert store.find_notifications(cause="unannounced_entry") == []
        transactions = []
        writing = uc.service.writing

        def counted() -> Any:
            transactions.append(uc.service.lock.held())
            return writing()

        monkeypatch.setattr(uc.service, "writing", counted)
        assert planner.drain(chunk=3) == len(ASSETS)
        monkeypatch.undo()
        # Three transactions (3 + 3 + 1), the write lock taken for each one.
        assert transactions == [True, True, True]
        rows = store.find_notifications(cause="unannounced_entry")
        assert sorted(r["asset_id"] for r in rows) == ASSETS
        assert {r["unit_id"] for r in rows} == {"a-drones"}
        assert planner.drain(chunk=3) == 0
    finally:
        uc.service.close()
    # A restart finds everything told: nothing again.
    uc = UseCases.open(Settings(data_dir=data_dir, database_url=backends.database_url(data_dir)))
    try:
        uc.service.load_now()
        rows = uc.service.store.find_notifications(cause="unannounced_entry")
        assert sorted(r["asset_id"] for r in rows) == ASSETS
    finally:
        uc.service.close()
