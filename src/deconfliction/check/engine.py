"""The engine: the in-memory registry and index, kept in step with the store, and the
entry point of the pre-action check.

The service keeps it in step with the store (every write, then the answer);
the check reads only memory. Thread-safe: one lock serialises writers and
checks (a check takes tens to hundreds of microseconds). A check reads the engine
through a :class:`~deconfliction.check.view.CheckView`; its passes are ``matching``,
``withheld`` and ``gaps``, its words ``answer``.

Check semantics are those of docs/design/principles.md ("The check in one paragraph")
and docs/design/check.md: the verdict is
``HOLD`` when anything registered *could* be at the point at the time; features
only explain and rank; withheld matches carry nothing but party and contact.
"""

from __future__ import annotations

import gc
import math
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from deconfliction.check import matching
from deconfliction.check.codes import Codes, Releasability
from deconfliction.check.evaluation import Evaluation
from deconfliction.check.index.assets import AssetTable
from deconfliction.check.index.shapes import AorRef, Shape, ShapeIndex, geometry_shape, site_shape
from deconfliction.check.reports import ReportIntake
from deconfliction.check.view import AreaInfo, CheckSettings, CheckView, MovementInfo
from deconfliction.domain import geo, limits
from deconfliction.domain.model import (
    Area,
    Asset,
    EquipmentType,
    Movement,
    Observation,
    Party,
    PositionReport,
    Site,
    Unit,
)
from deconfliction.domain.plain_reports import PlainEffect
from deconfliction.domain.result import CheckResult

#: Speed assumed for an asset whose type is not (yet) in the catalogue: fail toward HOLD.
UNKNOWN_TYPE_SPEED_KMH = 1000.0
#: Cells whose nearby shapes are kept (``Engine.near_cell``): a unit checks where it
#: operates, a few cells; thousands of entries would only be more for the collector.
_NEAR_CACHE_MAX = 1024


def _tuple(values: Sequence[str] | None) -> tuple[str, ...] | None:
    return tuple(values) if values is not None else None


class IndexNotReady(RuntimeError):
    """The index is still loading: an answer now could miss a candidate."""


def _ts(t: datetime) -> float:
    return t.timestamp()


def _mps(kmh: float) -> float:
    """A maximum speed in m/s; one out of physical range (a stored value written by an
    older version or another node) is a speed that takes the asset anywhere."""
    return kmh / 3.6 if limits.speed_in_range(kmh) else limits.ANYWHERE_SPEED_MPS


class Engine:
    """The registry and index in memory: written by the service, read by ``check``."""

    def __init__(
        self, horizon: timedelta = timedelta(hours=6), settings: CheckSettings | None = None
    ) -> None:
        self.settings = settings or CheckSettings(horizon=horizon)
        self.ready = False
        self._lock = threading.RLock()
        self.parties: dict[str, Party] = {}
        self.types: dict[str, EquipmentType] = {}
        self.areas: dict[str, AreaInfo] = {}
        self._party_codes = Codes()
        self._type_codes = Codes()
        self._rel_codes = Releasability()
        self.assets = AssetTable()
        self.shapes = ShapeIndex()
        # Per asset slot: what a reason needs, kept out of the GC's way (strings only).
        self._callsign: list[str] = []
        self._contact: list[str | None] = []
        self._speed_override = np.empty(0, dtype=np.float64)
        self._reports = ReportIntake(self.assets)
        self._areas_of_asset: dict[str, set[str]] = {}
        # Bumped by every registry change: what is withheld from whom is cached per asker.
        self._generation = 0
        self._withheld_cache: dict[str | None, tuple[int, int, bool, bool]] = {}
        self._near_cache: dict[tuple[float, float, float], tuple[int, tuple[Shape, ...]]] = {}
        # What a check reads, built once over the containers above: they are changed in
        # place and never replaced (a new one would not be seen by the checks).
        self._view = CheckView(
            settings=self.settings,
            assets=self.assets,
            shapes=self.shapes,
            near_cell=self.near_cell,
            parties=self.parties,
            types=self.types,
            areas=self.areas,
            areas_of_asset=self._areas_of_asset,
            party_codes=self._party_codes,
            type_codes=self._type_codes,
            releasability=self._rel_codes,
            callsigns=self._callsign,
            contacts=self._contact,
        )

    # -- loading and writes --------------------------------------------------------------

    def load(
        self,
        *,
        parties: Iterable[Party] = (),
        units: Iterable[Unit] = (),
        equipment_types: Iterable[EquipmentType] = (),
        assets: Iterable[Asset] = (),
        reports: Iterable[PositionReport] = (),
        movements: Iterable[Movement] = (),
        areas: Iterable[Area] = (),
        sites: Iterable[Site] = (),
    ) -> None:
        """Bulk load at start-up; the engine is ready when this returns."""
        # A long-lived registry is built once: collecting it again and again while
        # it grows only costs pauses, so the collector waits, then freezes it.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            with self._lock:
                for group in (parties, equipment_types, units, assets, movements, areas, sites):
                    for obj in group:
                        self.put(obj)
                self.put_reports(list(reports))
                self.assets.warm()
        finally:
            if gc_was_enabled:
                gc.enable()
            gc.collect()
            gc.freeze()
        self.ready = True

    def put(self, obj: Party | Unit | EquipmentType | Asset | Movement | Area | Site) -> None:
        """Insert or replace one registered object."""
        self._generation += 1
        with self._lock:
            if isinstance(obj, Area | Site | Movement) and obj.releasable_to is not None:
                # Interned now, on write: a code first made during a check would change
                # the codes' count, and with it every asker's cached visibility.
                owner = self._movement_party(obj) if isinstance(obj, Movement) else obj.party_id
                self._rel_codes.code(owner, obj.releasable_to)
            if isinstance(obj, Party):
                self.parties[obj.id] = obj
                self._party_codes(obj.id)
            elif isinstance(obj, EquipmentType):
                self._put_type(obj)
            elif isinstance(obj, Asset):
                self._put_asset(obj)
            elif isinstance(obj, Unit):
                self.shapes.put(
                    geometry_shape(
                        obj.id,
                        "aor",
                        self._party_codes(obj.party_id),
                        obj.aor_shape,
                        0.0,
                        _ts(obj.aor_start) if obj.aor_start else -math.inf,
                        _ts(obj.aor_end) if obj.aor_end else math.inf,
                        AorRef(obj.id, obj.party_id, obj.name),
                    )
                )
            elif isinstance(obj, Movement):
                owner = self._movement_party(obj)
                self.shapes.put(
                    geometry_shape(
                        obj.id,
                        "movement",
                        self._party_codes(owner),
                        obj.route_shape,
                        obj.corridor_m,
                        _ts(obj.start),
                        _ts(obj.end),
                        MovementInfo(
                            obj.id,
                            obj.asset_id,
                            obj.corridor_m,
                            _ts(obj.start),
                            _ts(obj.end),
                            _tuple(obj.releasable_to),
                        ),
                    )
                )
            elif isinstance(obj, Area):
                self._put_area(obj)
            elif isinstance(obj, Site):
                self.shapes.put(
                    site_shape(
                        obj.id,
                        "site",
                        self._party_codes(obj.party_id),
                        obj.position.lat,
                        obj.position.lon,
                        obj.radius_m + obj.position.extra_radius_m,
                        obj,
                    )
                )
            else:  # pragma: no cover - typed callers cannot get here
                raise TypeError(f"cannot index {type(obj).__name__}")

    def remove(self, kind: str, obj_id: str) -> None:
        self._generation += 1
        with self._lock:
            if kind == "party":
                self.parties.pop(obj_id, None)
            elif kind == "equipment_type":
                self.types.pop(obj_id, None)
            elif kind == "asset":
                self.assets.remove(obj_id)
            elif kind == "unit":
                self.shapes.remove("aor", obj_id)
            elif kind == "movement":
                self.shapes.remove("movement", obj_id)
            elif kind == "area":
                old = self.areas.pop(obj_id, None)
                if old is not None:
                    for aid in old.asset_ids:
                        self._areas_of_asset.get(aid, set()).discard(obj_id)
                self.shapes.remove("area", obj_id)
            elif kind == "site":
                self.shapes.remove("site", obj_id)
            else:
                raise ValueError(f"unknown kind {kind!r}")

    def _movement_party(self, movement: Movement) -> str:
        slot = self.assets.slot_of.get(movement.asset_id)
        if slot is None:
            return ""
        return str(self._party_codes.values[int(self.assets.party[slot])])

    def _put_area(self, area: Area) -> None:
        old = self.areas.get(area.id)
        if old is not None:
            for aid in old.asset_ids:
                self._areas_of_asset.get(aid, set()).discard(area.id)
        info = AreaInfo(
            area.id,
            area.party_id,
            area.kind,
            _ts(area.start),
            _ts(area.end),
            tuple(area.asset_ids),
            _tuple(area.releasable_to),
        )
        self.areas[area.id] = info
        for aid in area.asset_ids:
            self._areas_of_asset.setdefault(aid, set()).add(area.id)
        self.shapes.put(
            geometry_shape(
                area.id,
                "area",
                self._party_codes(area.party_id),
                area.shape,
                0.0,
                info.start,
                info.end,
                info,
            )
        )

    def _put_type(self, kind: EquipmentType) -> None:
        old = self.types.get(kind.id)
        self.types[kind.id] = kind
        code = self._type_codes(kind.id)
        if old is not None and old.max_speed_kmh != kind.max_speed_kmh:
            table = self.assets
            for slot in np.flatnonzero(table.type_code[: len(table.ids)] == code).tolist():
                asset_id = table.ids[slot]
                if asset_id is not None:
                    table.upsert(
                        asset_id,
                        int(table.party[slot]),
                        code,
                        int(table.rel_code[slot]),
                        self._speed_mps(slot, code),
                    )

    def _speed_mps(self, slot: int, type_code: int) -> float:
        override = self._speed_override[slot] if slot < len(self._speed_override) else math.nan
        if not math.isnan(override):
            return _mps(float(override))
        return self._type_speed_mps(type_code)

    def _type_speed_mps(self, type_code: int) -> float:
        type_id = self._type_codes.values[type_code]
        kind = self.types.get(type_id)
        kmh = kind.max_speed_kmh if kind is not None else UNKNOWN_TYPE_SPEED_KMH
        return _mps(kmh)

    def _put_asset(self, asset: Asset) -> None:
        type_code = self._type_codes(asset.type_id)
        # One upsert with the real speed: the asset's own limit, else its type's.
        v_mps = (
            _mps(asset.max_speed_kmh)
            if asset.max_speed_kmh is not None
            else self._type_speed_mps(type_code)
        )
        slot = self.assets.upsert(
            asset.id,
            self._party_codes(asset.party_id),
            type_code,
            self._rel_codes.code(asset.party_id, asset.releasable_to),
            v_mps,
        )
        self._ensure_slot_lists(slot + 1)
        self._callsign[slot] = asset.callsign
        self._contact[slot] = asset.contact
        self._speed_override[slot] = (
            asset.max_speed_kmh if asset.max_speed_kmh is not None else math.nan
        )

    def _ensure_slot_lists(self, n: int) -> None:
        if len(self._callsign) < n:
            grow = n - len(self._callsign)
            self._callsign.extend([""] * grow)
            self._contact.extend([None] * grow)
        if len(self._speed_override) < n:
            grown = np.full(max(n, 2 * len(self._speed_override)), np.nan)
            grown[: len(self._speed_override)] = self._speed_override
            self._speed_override = grown

    def near_cell(self, clat: float, clon: float, radius_m: float) -> tuple[Shape, ...]:
        """Shapes near a lattice cell's centre, cached until the registry changes: units
        check again and again where they operate, and this query is the lattice's cost.
        One tuple per entry (the shapes are the registry's own): one object for the
        collector to scan, not one per shape."""
        key = (clat, clon, radius_m)
        hit = self._near_cache.get(key)
        if hit is not None and hit[0] == self._generation:
            return hit[1]
        found = tuple(shape for shape, _ in self.shapes.near(clat, clon, radius_m))
        if len(self._near_cache) >= _NEAR_CACHE_MAX:
            self._near_cache.clear()
        self._near_cache[key] = (self._generation, found)
        return found

    def withheld_from(self, asker: str | None) -> tuple[bool, bool]:
        """Whether any asset, and any shape (another party's AOR included), is withheld
        from ``asker``; cached until the registry changes. The checks skip the lattice
        passes when nothing could be withheld (they would find nothing)."""
        n_rel = len(self._rel_codes.values)
        cached = self._withheld_cache.get(asker)
        if cached is not None and cached[0] == self._generation and cached[1] == n_rel:
            return cached[2], cached[3]
        asker_code = self._party_codes.code_of.get(asker, -2)
        vis = self._rel_codes.visibility(asker)
        t = self.assets
        used = t.party >= 0
        rel = np.clip(t.rel_code, 0, max(0, n_rel - 1))
        assets = bool(n_rel) and bool(np.any(used & (t.party != asker_code) & ~vis[rel]))
        shapes = False
        for shape in self.shapes.shapes():
            if shape.party == asker_code:
                continue
            if shape.kind == "aor" or shape.kind == "movement":
                shapes = True  # a movement may follow its asset's releasability: assume so
                break
            rel_to = shape.payload.releasable_to
            if not (rel_to and ("*" in rel_to or (asker is not None and asker in rel_to))):
                shapes = True
                break
        self._withheld_cache[asker] = (self._generation, n_rel, assets, shapes)
        return assets, shapes

    def load_asset_arrays(
        self,
        asset_ids: list[str],
        callsigns: list[str],
        party_ids: Sequence[str],
        type_ids: Sequence[str],
        releasable_to: Sequence[Sequence[str] | None],
        max_speed_kmh: np.ndarray[Any, np.dtype[np.float64]] | None = None,
    ) -> np.ndarray[Any, np.dtype[np.int64]]:
        """Register many assets without a Python object each (start-up, benchmarks).

        ``max_speed_kmh`` overrides the type's speed per asset (NaN: the type's).
        """
        self._generation += 1
        with self._lock:
            party = np.fromiter((self._party_codes(p) for p in party_ids), dtype=np.int64)
            tcode = np.fromiter((self._type_codes(t) for t in type_ids), dtype=np.int64)
            rel = np.fromiter(
                (self._rel_codes.code(p, r) for p, r in zip(party_ids, releasable_to, strict=True)),
                dtype=np.int64,
            )
            speed_of_type = {code: self._type_speed_mps(code) for code in np.unique(tcode).tolist()}
            v = np.fromiter((speed_of_type[c] for c in tcode.tolist()), dtype=np.float64)
            if max_speed_kmh is not None:
                own = np.where(
                    (max_speed_kmh >= 0) & (max_speed_kmh <= limits.MAX_SPEED_KMH),
                    max_speed_kmh / 3.6,
                    limits.ANYWHERE_SPEED_MPS,
                )
                v = np.where(np.isnan(max_speed_kmh), v, own)
            slots = self.assets.bulk_upsert(asset_ids, party, tcode, rel, v)
            self._ensure_slot_lists(int(slots.max()) + 1 if len(slots) else 0)
            if max_speed_kmh is not None:
                self._speed_override[slots] = max_speed_kmh
            for slot, callsign in zip(slots.tolist(), callsigns, strict=True):
                self._callsign[slot] = callsign
            return slots

    def put_reports(self, reports: Sequence[PositionReport]) -> int:
        """Take position reports (the newest per asset wins); unknown assets are skipped.
        Authenticated ones place an asset, plain ones only widen it (``reports.py``)."""
        with self._lock:
            return self._reports.put(reports)

    def plain_effect(
        self, asset_id: str, lat: float, lon: float, time: datetime, cep_m: float
    ) -> PlainEffect | None:
        """What a plain report would do, or ``None`` when the index cannot say (still
        loading, or the asset unknown to it): the ingest then stores it and the loader
        applies the same bound (``ReportIntake``)."""
        if not self.ready:
            return None
        with self._lock:
            slot = self.assets.slot_of.get(asset_id)
            if slot is None:
                return None
            return self._reports.effect(slot, lat, lon, _ts(time), geo.r99(cep_m))[0]

    # -- the check -------------------------------------------------------------------------

    def check(
        self, observation: Observation, asking_party_id: str | None, now: datetime | None = None
    ) -> CheckResult:
        if not self.ready:
            raise IndexNotReady("the index is still loading")
        now = now or datetime.now(UTC)
        with self._lock:
            any_withheld_asset, any_withheld_shape = self.withheld_from(asking_party_id)
            evaluation = Evaluation(
                self._view,
                observation,
                asking_party_id,
                now,
                self._rel_codes.visibility(asking_party_id),
                any_withheld_asset,
                any_withheld_shape,
            )
            return matching.evaluate(evaluation)
