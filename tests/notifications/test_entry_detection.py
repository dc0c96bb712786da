"""Unannounced-entry detection in report batches: the batch's vectorised pieces answer
what one-by-one code answers, and the assets it keeps across batches follow every write."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely

from deconfliction.check.index.containment import Containment
from deconfliction.check.index.shapes import ShapeIndex, distances_m, geometry_shape, site_shape
from deconfliction.domain import geo
from deconfliction.domain.model import PositionReport
from deconfliction.service.access import SYSTEM
from deconfliction.service.config import Settings
from deconfliction.service.kinds import ASSET
from deconfliction.store import open_store
from deconfliction.store import reports as reports_store
from deconfliction.usecases import UseCases
from tests.support import backends
from tests.support.store_world import SAM_W, write_asset, write_parties, write_unit
from tests.support.world import BOX_A

pytestmark = pytest.mark.unit

M_PER_DEG = 111_195.0


def _report(asset_id: str, lat: float, lon: float, at: datetime, cep_m: float = 10) -> Any:
    return PositionReport.model_validate(
        {"asset_id": asset_id, "time": at, "position": {"lat": lat, "lon": lon}, "cep_m": cep_m}
    )


@pytest.mark.parametrize("per_pass", [200_000, 7, 1])
def test_batched_chord_distances_are_the_one_by_one_distances(
    per_pass: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # However the pairs are split into passes (a pair longer than a pass is one alone).
    monkeypatch.setattr(geo, "_VERTICES_PER_PASS", per_pass)
    rng = random.Random(3)
    chords: list[geo.Chords] = []
    lats: list[float] = []
    lons: list[float] = []
    for _ in range(300):
        lon, lat = rng.uniform(-179, 179), rng.uniform(-80, 80)
        half = rng.uniform(0.001, 0.3)
        geom: Any = shapely.box(lon - half, lat - half, lon + half, lat + half)
        if rng.random() < 0.3:  # parts separated by NaN
            geom = shapely.MultiPolygon([geom, shapely.box(lon + 1, lat, lon + 1.2, lat + 0.2)])
        if rng.random() < 0.1:  # a single vertex: no segment at all
            chords.append(geo.Chords.of(np.array([lat]), np.array([lon])))
        else:
            chords.append(geo.Chords.of(*geo.chords(geom)))
        lats.append(lat + rng.uniform(-1, 1))
        lons.append(lon + rng.uniform(-1, 1))
    batched = geo.distances_to_precomputed_chords_m(lats, lons, chords)
    for k in range(len(chords)):
        assert batched[k] == geo.distance_to_precomputed_chords_m(lats[k], lons[k], chords[k])
    assert len(geo.distances_to_precomputed_chords_m([], [], [])) == 0


def test_batched_shape_distances_are_each_shapes_own() -> None:
    rng = random.Random(5)
    shapes = []
    lats: list[float] = []
    lons: list[float] = []
    for i in range(200):
        lon, lat = rng.uniform(30, 31), rng.uniform(50, 51)
        half = rng.uniform(0.005, 0.02)
        kind = rng.choice(("aor", "area", "movement", "site"))
        if kind == "site":
            shapes.append(site_shape(f"s{i}", kind, 0, lat, lon, 100.0, None))
        else:
            geom: Any = shapely.box(lon - half, lat - half, lon + half, lat + half)
            if kind == "movement":
                geom = shapely.LineString([(lon - half, lat), (lon + half, lat + half)])
            shapes.append(geometry_shape(f"s{i}", kind, 0, geom, 0.0, -math.inf, math.inf, None))
        # Inside, on the border and outside.
        lats.append(lat + rng.choice((0.0, half, rng.uniform(-0.05, 0.05))))
        lons.append(lon + rng.choice((0.0, rng.uniform(-0.05, 0.05))))
    batched = distances_m(shapes, lats, lons)
    assert (batched == 0.0).any() and (batched > 0.0).any()
    for k, shape in enumerate(shapes):
        assert batched[k] == shape.distance_m(lats[k], lons[k])


def test_containment_keys_name_the_containing_shapes_in_order() -> None:
    rng = random.Random(11)
    index = ShapeIndex()
    for i in range(200):
        lon, lat = rng.uniform(30, 31), rng.uniform(50, 51)
        half = rng.uniform(0.02, 0.2)
        geom = shapely.box(lon - half, lat - half, lon + half, lat + half)
        index.put(geometry_shape(f"u{i}", "aor", 0, geom, 0.0, -math.inf, math.inf, f"k{i}"))
    containment = Containment(index, "aor", key=lambda s: str(s.payload))
    lats = np.array([rng.uniform(49.9, 51.1) for _ in range(2000)])
    lons = np.array([rng.uniform(29.9, 31.1) for _ in range(2000)])
    times = np.zeros(2000)
    keys = containment.containing_keys(lats, lons, times)
    assert any(keys) and not all(keys)
    for lat, lon, got in zip(lats.tolist(), lons.tolist(), keys, strict=True):
        point = shapely.Point(lon, lat)
        inside = {str(s.payload) for s in index.shapes("aor") if s.geom.covers(point)}  # type: ignore[union-attr]
        assert set(got) == inside and len(got) == len(inside)
    # A shape added is named at the next query (the tree and its keys are rebuilt).
    index.put(
        geometry_shape(
            "all", "aor", 0, shapely.box(29, 49, 32, 52), 0.0, -math.inf, math.inf, "everywhere"
        )
    )
    assert all("everywhere" in found for found in containment.containing_keys(lats, lons, times))


# -- through the service ----------------------------------------------------------------


def _store_world(data_dir: Path, aors: list[tuple[str, list[list[float]]]], assets: int) -> None:
    """Written as another process would (``import``)."""
    store = open_store(data_dir, backends.database_url(data_dir))
    try:
        with store.transaction():
            write_parties(store, "alpha", "bravo")
            for unit_id, ring in aors:
                write_unit(store, unit_id, "alpha", ring)
            store.create("equipment_type", "sam-w", None, SAM_W, "t")
            for i in range(assets):
                write_asset(store, f"b-{i}", "bravo", releasable_to=["*"])
    finally:
        store.close()


def _open(data_dir: Path) -> UseCases:
    uc = UseCases.open(Settings(data_dir=data_dir, database_url=backends.database_url(data_dir)))
    uc.service.load_now()
    return uc


def _entries(uc: UseCases) -> list[tuple[str, str, str, Any]]:
    rows = uc.service.store.find_notifications(cause="unannounced_entry", limit=10**6)
    return sorted(
        (
            r["unit_id"],
            r["asset_id"],
            r["payload"]["entry"]["at"],
            r["payload"]["entry"]["position"],
        )
        for r in rows
    )


def _box(lat: float, lon: float, half_m: float) -> list[list[float]]:
    dlat = half_m / M_PER_DEG
    dlon = half_m / (M_PER_DEG * math.cos(math.radians(lat)))
    ring = [
        [lon - dlon, lat - dlat],
        [lon + dlon, lat - dlat],
        [lon + dlon, lat + dlat],
        [lon - dlon, lat + dlat],
    ]
    return [*ring, ring[0]]


def test_a_batch_tells_the_entries_one_report_at_a_time_tells(tmp_path: Path) -> None:
    """Tracks crossing borders back and forth, several reports of an asset in a batch (its
    hysteresis measured ahead for the whole batch) and a few out of order: the same
    episodes as when each report comes alone."""
    rng = random.Random(17)
    aors = [
        (f"u{i}", _box(rng.uniform(50.0, 50.1), rng.uniform(30.0, 30.15), rng.uniform(300, 900)))
        for i in range(40)
    ]
    n_assets = 12
    at = datetime.now(UTC) - timedelta(hours=1)
    pos = [(rng.uniform(50.0, 50.1), rng.uniform(30.0, 30.15)) for _ in range(n_assets)]
    batches = []
    for b in range(12):
        batch = []
        for _ in range(40):
            i = rng.randrange(n_assets)
            lat, lon = pos[i]
            d = rng.uniform(0, 400) / M_PER_DEG
            ang = rng.uniform(0, 2 * math.pi)
            pos[i] = (
                lat + d * math.cos(ang),
                lon + d * math.sin(ang) / math.cos(math.radians(lat)),
            )
            # Now and then an older report (it changes no episode) or a coarse one.
            late = rng.random() < 0.05
            when = at + timedelta(seconds=10 * b + rng.uniform(0, 9) - (30 if late else 0))
            batch.append(_report(f"b-{i}", *pos[i], when, rng.choice((10, 10, 10, 150))))
        batches.append(batch)
    results = []
    for one_by_one in (False, True):
        data_dir = tmp_path / ("one" if one_by_one else "batch")
        _store_world(data_dir, aors, n_assets)
        uc = _open(data_dir)
        try:
            for batch in batches:
                # A batch takes its reports in time order: one by one, so do they come.
                ordered = sorted(batch, key=lambda r: r.time)
                for part in [[r] for r in ordered] if one_by_one else [batch]:
                    with uc.service.lock:
                        uc.reports.write(part, "t")
            results.append(_entries(uc))
        finally:
            uc.service.close()
    assert len(results[0]) > 20  # plenty of episodes
    assert results[0] == results[1]


def test_the_assets_kept_across_batches_follow_writes_here_and_elsewhere(tmp_path: Path) -> None:
    data_dir = tmp_path / "d"
    _store_world(data_dir, [("a-drones", BOX_A)], 3)
    uc = _open(data_dir)
    at = datetime.now(UTC) - timedelta(minutes=10)
    step = iter(range(1, 1000))

    def report(asset_id: str, inside: bool) -> None:
        lat, lon = (48.5, 35.5) if inside else (40.0, 20.0)
        with uc.service.lock:
            uc.reports.write([_report(asset_id, lat, lon, at + timedelta(seconds=next(step)))], "t")

    def callsigns(asset_id: str) -> list[str | None]:
        rows = uc.service.store.find_notifications(
            cause="unannounced_entry", asset_id=asset_id, limit=100
        )
        return [(r["payload"]["asset"] or {}).get("callsign") for r in rows]

    try:
        for asset_id in ("b-0", "b-1", "b-2"):
            report(asset_id, inside=True)  # read once, and kept
            report(asset_id, inside=False)
        # Another process renames b-0 and deletes b-1 (followed by the next write).
        other = open_store(data_dir, backends.database_url(data_dir))
        try:
            body = {
                "id": "b-0",
                "party_id": "bravo",
                "type_id": "sam-w",
                "callsign": "Renamed",
                "releasable_to": ["*"],
            }
            other.update("asset", "b-0", "bravo", body, "elsewhere")
            other.delete("asset", "b-1", "elsewhere")
        finally:
            other.close()
        report("b-0", inside=True)
        report("b-1", inside=True)
        assert callsigns("b-0") == ["b-0", "Renamed"]
        assert callsigns("b-1") == ["b-1"]  # gone: no entry told for it
        # This process renames b-2.
        body = {
            "id": "b-2",
            "party_id": "bravo",
            "type_id": "sam-w",
            "callsign": "Here",
            "releasable_to": ["*"],
        }
        with uc.service.lock:
            uc.registry.replace(SYSTEM, ASSET, "b-2", body)
        report("b-2", inside=True)
        assert callsigns("b-2") == ["b-2", "Here"]
    finally:
        uc.service.close()


def test_a_report_row_is_built_or_refused_as_field_by_field() -> None:
    """The one-pass row of a well-formed report is the field-by-field row, and a bad value
    anywhere raises what the field-by-field pass raises (the first bad field's error)."""
    rng = random.Random(23)
    good: dict[str, Any] = {
        "asset_id": "a-1",
        "time": "2026-01-02T03:04:05.123456Z",
        "lat": 50.5,
        "lon": 30.25,
        "cep_m": 10,
        "extra_radius_m": None,
        "speed_kmh": 12.5,
        "course_deg": None,
        "source": "plain",
    }
    bad_values: list[Any] = [math.nan, math.inf, -math.inf, "x", None, 10**400, "1e999", True]
    for _ in range(2000):
        report = dict(good)
        for key in rng.sample(sorted(good), rng.randint(0, 3)):
            if rng.random() < 0.2:
                del report[key]
            else:
                report[key] = rng.choice([*bad_values, "", 3, "2026-02-30T00:00:00.000000Z"])
        try:
            expected: Any = reports_store._checked_row(report)
        except Exception as exc:
            expected = (type(exc), str(exc))
        try:
            got: Any = reports_store.to_row(report)
        except Exception as exc:
            got = (type(exc), str(exc))
        assert got == expected, report
