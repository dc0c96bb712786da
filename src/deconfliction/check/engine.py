"""The engine: the in-memory registry and index, and the pre-action check.

The service keeps it in step with the store (every write, then the answer);
the check reads only memory. Thread-safe: one lock serialises writers and
checks (a check takes tens to hundreds of microseconds).

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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from deconfliction.check.index.assets import AssetTable
from deconfliction.check.index.shapes import AorRef, Shape, ShapeIndex, geometry_shape, site_shape
from deconfliction.domain import geo, limits, wording
from deconfliction.domain.coarse import Lattice
from deconfliction.domain.features import NOT_COMPARED, Comparison, compare
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
from deconfliction.domain.plain_reports import PlainEffect, widening_effect
from deconfliction.domain.result import CheckResult, CoverageGap, Match

#: Speed assumed for an asset whose type is not (yet) in the catalogue: fail toward HOLD.
UNKNOWN_TYPE_SPEED_KMH = 1000.0
#: Cells whose nearby shapes are kept (``Engine.near_cell``).
_NEAR_CACHE_MAX = 4096
#: Lookahead of the first search for the next arrival (seconds); later searches widen.
_ARRIVAL_LOOKAHEADS = (60.0, 600.0, 3600.0)


@dataclass(frozen=True, slots=True)
class AreaInfo:
    """What the check needs of an area (its geometry lives in the shape index)."""

    id: str
    party_id: str
    kind: str
    start: float
    end: float
    asset_ids: tuple[str, ...]
    releasable_to: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class MovementInfo:
    id: str
    asset_id: str
    corridor_m: float
    start: float
    end: float
    releasable_to: tuple[str, ...] | None


def _tuple(values: Sequence[str] | None) -> tuple[str, ...] | None:
    return tuple(values) if values is not None else None


class IndexNotReady(RuntimeError):
    """The index is still loading: an answer now could miss a candidate."""


@dataclass(frozen=True, slots=True)
class CheckSettings:
    horizon: timedelta = timedelta(hours=6)
    fresh: timedelta = timedelta(minutes=15)
    gap_radius_m: float = 50_000.0
    max_matches: int = 50
    max_gaps: int = 20
    #: What the asker may not see is matched on this lattice (domain/coarse.py).
    withheld: Lattice = field(default_factory=Lattice)


class _Codes:
    """Interns strings (party ids, type ids, releasability sets) as small ints."""

    def __init__(self) -> None:
        self.code_of: dict[Any, int] = {}
        self.values: list[Any] = []

    def __call__(self, value: Any) -> int:
        code = self.code_of.get(value)
        if code is None:
            code = self.code_of[value] = len(self.values)
            self.values.append(value)
        return code


def _ts(t: datetime) -> float:
    return t.timestamp()


def _mps(kmh: float) -> float:
    """A maximum speed in m/s; one out of physical range (a stored value written by an
    older version or another node) is a speed that takes the asset anywhere."""
    return kmh / 3.6 if limits.speed_in_range(kmh) else limits.ANYWHERE_SPEED_MPS


def _report_time(report: PositionReport) -> float:
    """A report's time as a timestamp; NaN when it is not a time at all."""
    try:
        return report.time.timestamp()
    except (AttributeError, OverflowError, ValueError, TypeError):
        return math.nan


def _numbers(report: PositionReport) -> tuple[float, float, float, float] | None:
    """(lat, lon, time, r99) of a report the index may place, or ``None``: its numbers are
    out of physical range, and the asset could be anywhere (domain/limits.py)."""
    try:
        lat = float(report.position.lat)
        lon = float(report.position.lon)
        cep = float(report.effective_cep_m)
    except (AttributeError, TypeError, ValueError):
        return None
    t = _report_time(report)
    if not limits.report_in_range(lat, lon, cep, t):
        return None
    return lat, lon, t, geo.r99(cep)


def _anywhere_time(report: PositionReport) -> float:
    """The time an out-of-range report is taken at: its own when that is in range (a later
    report replaces it), else the window's start (any report in range replaces it)."""
    t = _report_time(report)
    return t if limits.TIME_MIN_TS <= t <= limits.TIME_MAX_TS else limits.TIME_MIN_TS


class Engine:
    def __init__(
        self, horizon: timedelta = timedelta(hours=6), settings: CheckSettings | None = None
    ) -> None:
        self.settings = settings or CheckSettings(horizon=horizon)
        self.ready = False
        self._lock = threading.RLock()
        self.parties: dict[str, Party] = {}
        self.types: dict[str, EquipmentType] = {}
        self.areas: dict[str, AreaInfo] = {}
        self._party_codes = _Codes()
        self._type_codes = _Codes()
        self._rel_codes = _Codes()
        self.assets = AssetTable()
        self.shapes = ShapeIndex()
        # Per asset slot: what a reason needs, kept out of the GC's way (strings only).
        self._callsign: list[str] = []
        self._contact: list[str | None] = []
        self._speed_override = np.empty(0, dtype=np.float64)
        #: slot → (t0, lat, lon, accuracy, capped) of the report that placed it, as plain
        #: reports last saw it: they widen from that reach, never from one another's
        #: (``_plain_effect``); capped unless a plain report placed it.
        self._plain_base: dict[int, tuple[float, float, float, float, bool]] = {}
        self._areas_of_asset: dict[str, set[str]] = {}
        self._visibility_cache: dict[str | None, np.ndarray[Any, np.dtype[np.bool_]]] = {}
        # Bumped by every registry change: what is withheld from whom is cached per asker.
        self._generation = 0
        self._withheld_cache: dict[str | None, tuple[int, int, bool, bool]] = {}
        self._near_cache: dict[
            tuple[float, float, float], tuple[int, list[tuple[Shape, float]]]
        ] = {}

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
        self._generation += 1
        """Insert or replace one registered object."""
        with self._lock:
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

    def _rel_visibility(self, asker: str | None) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """For each releasability code, whether ``asker`` may see details (cached)."""
        n = len(self._rel_codes.values)
        cached = self._visibility_cache.get(asker)
        if cached is not None and len(cached) == n:
            return cached
        table = np.fromiter(
            (rel == "*" or (asker is not None and asker in rel) for rel in self._rel_codes.values),
            dtype=bool,
            count=n,
        )
        self._visibility_cache[asker] = table
        return table

    def _rel_code(self, owner: str, releasable_to: Sequence[str] | None) -> int:
        if releasable_to and "*" in releasable_to:
            return self._rel_codes("*")
        return self._rel_codes(frozenset(releasable_to or ()) | {owner})

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
            self._rel_code(asset.party_id, asset.releasable_to),
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

    def near_cell(self, clat: float, clon: float, radius_m: float) -> list[tuple[Shape, float]]:
        """Shapes near a lattice cell's centre, cached until the registry changes: units
        check again and again where they operate, and this query is the lattice's cost."""
        key = (clat, clon, radius_m)
        hit = self._near_cache.get(key)
        if hit is not None and hit[0] == self._generation:
            return hit[1]
        found = self.shapes.near(clat, clon, radius_m)
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
        vis = self._rel_visibility(asker)
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
                (self._rel_code(p, r) for p, r in zip(party_ids, releasable_to, strict=True)),
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

        Authenticated reports place an asset. A plain-port report (``source`` plain) only
        widens where it could be (``_widen``): applied after the batch's authenticated ones.
        A report whose numbers are out of physical range (``domain/limits.py``: only a stored
        row of an older version or another node can hold one) places its asset *anywhere*
        (``AssetTable.place_anywhere``), whatever its source: never a smaller reach.
        """
        with self._lock:
            slot_of = self.assets.slot_of
            placed = [r for r in reports if r.source == "authenticated" and r.asset_id in slot_of]
            taken = 0
            if len(placed) == 1:
                r = placed[0]
                numbers = _numbers(r)
                if numbers is None:
                    taken += self.assets.place_anywhere(slot_of[r.asset_id], _anywhere_time(r))
                else:
                    lat, lon, t, r99 = numbers
                    taken += int(self.assets.report(slot_of[r.asset_id], lat, lon, t, r99))
            elif placed:
                # Column by column: no tuple per report, no 2-D array to split again.
                n = len(placed)
                positions = [r.position for r in placed]
                slots = np.fromiter([slot_of[r.asset_id] for r in placed], np.int64, n)
                lats = np.fromiter([p.lat for p in positions], np.float64, n)
                lons = np.fromiter([p.lon for p in positions], np.float64, n)
                t0s = np.fromiter([_report_time(r) for r in placed], np.float64, n)
                ceps = np.fromiter([r.effective_cep_m for r in placed], np.float64, n)
                ok = limits.reports_in_range(lats, lons, ceps, t0s)
                if not ok.all():
                    # Anywhere first: a newer report in range in this batch replaces it.
                    for i in np.flatnonzero(~ok).tolist():
                        r = placed[i]
                        taken += self.assets.place_anywhere(int(slots[i]), _anywhere_time(r))
                    slots, lats, lons, t0s, ceps = (
                        slots[ok],
                        lats[ok],
                        lons[ok],
                        t0s[ok],
                        ceps[ok],
                    )
                # geo.r99 of each, as one multiplication.
                taken += self.assets.report_batch(slots, lats, lons, t0s, geo.R99_PER_CEP * ceps)
            for r in reports:
                if r.source != "authenticated" and r.asset_id in slot_of:
                    numbers = _numbers(r)
                    if numbers is None:
                        taken += self.assets.place_anywhere(slot_of[r.asset_id], _anywhere_time(r))
                    else:
                        taken += self._widen(slot_of[r.asset_id], *numbers)
            return taken

    def _widen(self, slot: int, lat: float, lon: float, t: float, r99: float) -> int:
        """A plain report at (lat, lon) at time t: the asset could be there, so the check
        must find it there from then on — but it never moves the asset (a forged report
        must not take a friendly out of a check at its authenticated position). The
        authenticated report's accuracy grows until its reach covers the plain report's at
        every later time: ``a ≥ d + r99 − v·(t − t0)``. Without an authenticated report the
        plain one is all there is, and places the asset. One older than the authenticated
        report says nothing newer and is ignored. A later authenticated report replaces it.
        A widening beyond the bound of ``domain/plain_reports.py`` is refused."""
        effect, need = self._plain_effect(slot, lat, lon, t, r99)
        table = self.assets
        if effect is PlainEffect.PLACES:
            placed = table.report(slot, lat, lon, t, r99)
            if placed:  # widened from this placement, uncapped: no authenticated report
                self._plain_base[slot] = (t, lat, lon, r99, False)
            return int(placed)
        if effect is not PlainEffect.WIDENS:
            return 0
        here_lat, here_lon = float(table.lat[slot]), float(table.lon[slot])
        return int(table.report(slot, here_lat, here_lon, float(table.t0[slot]), need))

    def _plain_effect(
        self, slot: int, lat: float, lon: float, t: float, r99: float
    ) -> tuple[PlainEffect, float]:
        """What a plain report would do to the slot's reach, and the accuracy it needs."""
        table = self.assets
        if not table.has[slot]:
            return PlainEffect.PLACES, r99
        t0 = float(table.t0[slot])
        if t < t0:
            return PlainEffect.NO_CHANGE, 0.0
        here_lat, here_lon = float(table.lat[slot]), float(table.lon[slot])
        a = float(table.a[slot])
        # Widen from the placing report's accuracy, not from earlier widenings: a slot whose
        # placement matches no record was placed by an authenticated report since.
        base = self._plain_base.get(slot)
        if base is None or base[:3] != (t0, here_lat, here_lon):
            base = (t0, here_lat, here_lon, a, True)
            self._plain_base[slot] = base
        d = geo.haversine_scalar_m(here_lat, here_lon, lat, lon)
        need = d + r99 - float(table.v[slot]) * (t - t0)
        return widening_effect(need, a, base[3], base[4]), need

    def plain_effect(
        self, asset_id: str, lat: float, lon: float, time: datetime, cep_m: float
    ) -> PlainEffect | None:
        """What a plain report would do, or ``None`` when the index cannot say (still
        loading, or the asset unknown to it): the ingest then stores it and the loader's
        ``_widen`` applies the same bound."""
        if not self.ready:
            return None
        with self._lock:
            slot = self.assets.slot_of.get(asset_id)
            if slot is None:
                return None
            return self._plain_effect(slot, lat, lon, _ts(time), geo.r99(cep_m))[0]

    # -- the check -------------------------------------------------------------------------

    def check(
        self, observation: Observation, asking_party_id: str | None, now: datetime | None = None
    ) -> CheckResult:
        if not self.ready:
            raise IndexNotReady("the index is still loading")
        now = now or datetime.now(UTC)
        with self._lock:
            return _Check(self, observation, asking_party_id, now).run()


class _Check:
    """One evaluation. Collects sortable candidates first, words only what is listed."""

    def __init__(
        self, engine: Engine, obs: Observation, asking_party_id: str | None, now: datetime
    ) -> None:
        self.e = engine
        self.obs = obs
        self.asker = asking_party_id
        self.asker_code = engine._party_codes.code_of.get(asking_party_id, -2)
        self.now = _ts(now)
        self.t = _ts(obs.time) if obs.time else self.now
        self.lat = obs.position.lat
        self.lon = obs.position.lon
        self.r_obs = geo.r99(obs.effective_cep_m)
        self.horizon = engine.settings.horizon.total_seconds()
        self.fresh = engine.settings.fresh.total_seconds()
        # Earliest time the answer may change; never later than the horizon from now.
        self.changes_at = self.now + self.horizon
        # (group, -score, distance, tiebreak, builder)
        self.found: list[tuple[int, int, float, str, Any]] = []
        self.withheld: dict[str, int] = {}
        self.gaps: list[CoverageGap] = []
        self.matched_assets: list[str] = []
        self.asset_total = 0  # visible asset matches, listed or not
        self._comparisons: dict[int, Comparison] = {}
        self._asset_words: dict[int, tuple[str, tuple[str, ...], tuple[str, ...]]] = {}
        # The coarse view of the check, for everything withheld (domain/coarse.py).
        lattice = engine.settings.withheld
        self.lattice = lattice
        self.clat, self.clon = lattice.centre(self.lat, self.lon)
        self.r_obs_q = float(lattice.up(self.r_obs))
        self.tb = lattice.bucket(self.t)
        self.hd = lattice.half_diagonal_m
        self._visibility = engine._rel_visibility(asking_party_id)
        self._any_withheld_asset, self._any_withheld_shape = engine.withheld_from(asking_party_id)

    def _visible(self, party_code: int, rel_code: int) -> bool:
        if party_code == self.asker_code:
            return True
        rel = self.e._rel_codes.values[rel_code]
        return rel == "*" or (self.asker is not None and self.asker in rel)

    def _comparison(self, type_code: int) -> Comparison:
        cached = self._comparisons.get(type_code)
        if cached is None:
            kind = self.e.types.get(self.e._type_codes.values[type_code])
            cached = (
                compare(self.obs.observed, kind, self.e.types) if kind is not None else NOT_COMPARED
            )
            self._comparisons[type_code] = cached
        return cached

    def _soonest(self, when: float) -> None:
        if self.t < when < self.changes_at:
            self.changes_at = when

    def _soonest_withheld(self, when: float) -> None:
        """A change caused by something withheld: rounded down to its time bucket (never
        later), and at the latest "now" (the answer may change at any moment)."""
        if not when < self.changes_at:
            return  # also an open-ended window (inf)
        w = max(self.t, self.lattice.bucket(when))
        if w < self.changes_at:
            self.changes_at = w

    def _vis(self, slots: Any) -> Any:
        """Which asset slots the asker may see in detail."""
        table = self.e.assets
        return (table.party[slots] == self.asker_code) | self._visibility[table.rel_code[slots]]

    def run(self) -> CheckResult:
        self._assets()
        self._withheld_assets()
        self._shapes()
        self._past_horizon()
        self._withheld_past_horizon()
        return self._result()

    # assets by reach -------------------------------------------------------------------

    def _assets(self) -> None:
        table = self.e.assets
        gathered = table.gather(
            self.lat,
            self.lon,
            self.t,
            self.r_obs,
            max_age_s=self.horizon,
            lookahead_s=_ARRIVAL_LOOKAHEADS[0],
        )
        slots, dist, age = gathered.slots, gathered.dist_m, gathered.age_s
        reach = table.reach_m(slots, age, self.r_obs)
        exact = dist <= reach
        # The owners of every exact match are told (hold_on_your_asset), withheld or not.
        if exact.any():
            self.matched_assets.extend(table.ids[s] or "" for s in slots[exact].tolist())
        # What the asker may not see is matched on the lattice (_withheld_assets).
        vis = self._vis(slots)
        hit = exact & vis
        miss = ~exact & vis
        self._arrivals(slots[miss], dist[miss], _ARRIVAL_LOOKAHEADS[0])
        m_slots = slots[hit]
        m_dist = dist[hit]
        m_age = age[hit]
        t0 = table.t0[m_slots]
        # A match stops being one when its report passes the horizon (one placed anywhere
        # never does).
        if len(m_slots):
            ends = t0[(t0 <= self.t) & ~table.anywhere[m_slots]] + self.horizon
            if ends.size:
                self._soonest(float(ends.min()))
        else:
            return
        ids = table.ids
        tcodes = table.type_code[m_slots]
        # Few distinct types per check: a dict beats np.unique on arrays this small.
        score_of: dict[int, int] = {}
        score_list = []
        for code in tcodes.tolist():
            score = score_of.get(code)
            if score is None:
                score = score_of[code] = self._comparison(code).score
            score_list.append(score)
        scores = np.asarray(score_list)
        # Only the best max_matches assets can be listed: order them here, word them later.
        order = np.lexsort((m_dist, -scores))
        self.asset_total = len(order)
        top = order[: self.e.settings.max_matches]
        top_slots = m_slots[top]
        for slot, score, d, a, t0_i, tc, pc, v in zip(
            top_slots.tolist(),
            scores[top].tolist(),
            m_dist[top].tolist(),
            m_age[top].tolist(),
            t0[top].tolist(),
            tcodes[top].tolist(),
            table.party[top_slots].tolist(),
            table.v[top_slots].tolist(),
            strict=True,
        ):
            self.found.append(
                (2, -score, d, ids[slot] or "", ("asset", slot, d, a, t0_i, tc, pc, v))
            )

    def _arrivals(self, slots: Any, dist: Any, searched_s: float) -> None:
        """The earliest time a non-matching asset could come within reach."""
        table = self.e.assets
        best = self._arrival_times(slots, dist)
        if best is not None and best <= self.t + searched_s:
            self._soonest(best)
            return
        for lookahead in (*_ARRIVAL_LOOKAHEADS[1:], self.horizon):
            if self.t + searched_s >= self.changes_at:
                return
            g = table.gather(
                self.lat,
                self.lon,
                self.t,
                self.r_obs,
                max_age_s=self.horizon,
                lookahead_s=lookahead,
            )
            miss = (g.dist_m > table.reach_m(g.slots, g.age_s, self.r_obs)) & self._vis(g.slots)
            best = self._arrival_times(g.slots[miss], g.dist_m[miss])
            if best is not None and best <= self.t + lookahead:
                self._soonest(best)
                return
            searched_s = lookahead
        self._soonest(self.t + searched_s)

    def _arrival_times(self, slots: Any, dist: Any) -> float | None:
        if len(slots) == 0:
            return None
        table = self.e.assets
        v = table.v[slots]
        need = (dist - geo.ABSOLUTE_SLACK_M) / (1 + geo.SPHERE_ERROR) - table.a[slots] - self.r_obs
        with np.errstate(divide="ignore", invalid="ignore"):
            when = table.t0[slots] + need / v
        ok = (v > 0) & (when > self.t) & (when <= table.t0[slots] + self.horizon)
        if not ok.any():
            return None
        return float(when[ok].min())

    # withheld assets, on the lattice ---------------------------------------------------

    def _coarse(self, slots: Any) -> tuple[Any, Any, Any]:
        """For withheld slots: whether each matches on the lattice, its cell-to-cell
        distance, its report time. Every exact match is a coarse one (domain/coarse.py)."""
        table = self.e.assets
        lattice = self.lattice
        t0 = table.t0[slots]
        age_min, age_q = lattice.bucket_ages(self.tb, t0)
        c0lat, c0lon = lattice.centres(table.lat[slots], table.lon[slots])
        d = geo.haversine_m(self.clat, self.clon, c0lat, c0lon)
        reach_q = lattice.up(table.a[slots] + table.v[slots] * age_q)
        hit = (age_min <= self.horizon) & (d <= geo.widen(reach_q + self.r_obs_q + 2 * self.hd))
        # Anywhere (out-of-range report): at any time, whatever its report time says.
        hit |= table.anywhere[slots]
        return hit, d, t0

    def _surely_exact(self, slots: Any, d: Any, t0: Any) -> Any:
        """Withheld slots that surely match exactly too (from lattice data only)."""
        table = self.e.assets
        lattice = self.lattice
        age_min, _ = lattice.bucket_ages(self.tb, t0)
        reach_low = table.a[slots] + table.v[slots] * age_min + self.r_obs_q - lattice.cell_m
        return (d + 2 * self.hd <= reach_low) | table.anywhere[slots]

    def _coarse_arrival(self, slots: Any, d: Any, t0: Any) -> float | None:
        """The start of the earliest bucket in which a withheld slot could match on the
        lattice (never later than its exact arrival)."""
        if len(slots) == 0:
            return None
        table = self.e.assets
        lattice = self.lattice
        v = table.v[slots]
        need = (
            (d - geo.ABSOLUTE_SLACK_M) / (1 + geo.SPHERE_ERROR)
            - self.r_obs_q
            - 2 * self.hd
            - lattice.cell_m
            - table.a[slots]
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            when = t0 + need / v - lattice.step_s
        ok = (v > 0) & (when - t0 <= self.horizon)
        if not ok.any():
            return None
        return float(when[ok].min())

    def _withheld_assets(self) -> None:
        if not self._any_withheld_asset:
            return
        table = self.e.assets
        lattice = self.lattice
        step = lattice.step_s
        extra = self.r_obs_q + 3 * self.hd + lattice.cell_m
        searched = _ARRIVAL_LOOKAHEADS[0]
        g = table.gather(
            self.clat,
            self.clon,
            self.tb,
            extra,
            max_age_s=self.horizon + step,
            lookahead_s=step + searched,
        )
        slots = g.slots[~self._vis(g.slots)]
        hit, d, t0 = self._coarse(slots)
        if hit.any():
            values = self.e._party_codes.values
            for code in table.party[slots[hit]].tolist():
                pid = values[code]
                self.withheld[pid] = self.withheld.get(pid, 0) + 1
            # A match stops being one when its report passes the horizon (one placed
            # anywhere never does).
            ageing = t0[hit & ~table.anywhere[slots]]
            if ageing.size:
                self._soonest_withheld(float(ageing.min()) + self.horizon)
            # The exact answer might not match yet (the lattice only widens): its change,
            # an arrival, is no earlier than the lattice's bound — so valid_until is never
            # later than the exact answer's.
            unsure = ~self._surely_exact(slots[hit], d[hit], t0[hit])
            if unsure.any():
                early = self._coarse_arrival(slots[hit][unsure], d[hit][unsure], t0[hit][unsure])
                if early is not None:
                    self._soonest_withheld(early)
        best = self._coarse_arrival(slots[~hit], d[~hit], t0[~hit])
        for lookahead in (*_ARRIVAL_LOOKAHEADS[1:], self.horizon):
            if best is not None and best <= self.tb + searched:
                break
            if self.tb + searched >= self.changes_at:
                return
            g = table.gather(
                self.clat,
                self.clon,
                self.tb,
                extra,
                max_age_s=self.horizon + step,
                lookahead_s=step + lookahead,
            )
            slots = g.slots[~self._vis(g.slots)]
            hit, d, t0 = self._coarse(slots)
            found = self._coarse_arrival(slots[~hit], d[~hit], t0[~hit])
            if found is not None and (best is None or found < best):
                best = found
            searched = lookahead
        if best is not None:
            self._soonest_withheld(best)

    # areas, movements, sites, AORs -------------------------------------------------------

    def _shapes(self) -> None:
        operating_parties: set[int] = set()
        for shape, d in self.e.shapes.near(self.lat, self.lon, self.r_obs):
            if shape.kind == "aor":
                continue  # whose units operate here: on the lattice (_withheld_shapes)
            if not self._visible(*self._shape_rel(shape)):
                self._owner_of_withheld_movement(shape)
                continue
            start, end = shape.start, shape.end
            if shape.kind == "movement":
                slot = self.e.assets.slot_of.get(shape.payload.asset_id)
                v = float(self.e.assets.v[slot]) if slot is not None else 0.0
                widen = (shape.margin_m + self.r_obs) / v if v > 0 else 0.0
                start, end = start - widen, end + widen
            if self.t < start:
                self._soonest(start)
                continue
            if self.t > end:
                continue
            self._soonest(end)
            if shape.kind == "area":
                operating_parties.add(shape.party)
            self._shape_match(shape, d, start, end)
        self._withheld_shapes(operating_parties)
        self._presence_gaps(operating_parties)

    def _owner_of_withheld_movement(self, shape: Shape) -> None:
        """A withheld movement matched exactly: its owner is still told."""
        if shape.kind != "movement":
            return
        slot = self.e.assets.slot_of.get(shape.payload.asset_id)
        if slot is None:
            return
        v = float(self.e.assets.v[slot])
        widen = (shape.margin_m + self.r_obs) / v if v > 0 else 0.0
        if shape.start - widen <= self.t <= shape.end + widen:
            self.matched_assets.append(shape.payload.asset_id)

    def _withheld_shapes(self, operating: set[int]) -> None:
        """Withheld areas, movements and sites, and other parties' AORs, on the lattice:
        within the rounded radius plus a half diagonal of the cell's centre (so the match
        only widens, and depends on the cell, not the point), the window over the whole
        time bucket."""
        if not self._any_withheld_shape:
            return
        step = self.lattice.step_s
        for shape, _ in self.e.near_cell(self.clat, self.clon, self.r_obs_q + self.hd):
            if shape.kind == "aor":
                if shape.party == self.asker_code:
                    continue
            elif self._visible(*self._shape_rel(shape)):
                continue
            start, end = shape.start, shape.end
            if shape.kind == "movement":
                slot = self.e.assets.slot_of.get(shape.payload.asset_id)
                v = float(self.e.assets.v[slot]) if slot is not None else 0.0
                widen = (shape.margin_m + self.r_obs_q + self.hd) / v if v > 0 else 0.0
                start, end = start - widen, end + widen
            if end < self.tb:
                continue
            if start > self.tb + step:
                self._soonest_withheld(start)
                continue
            # Never later than the exact answer's change: the window as registered ends no
            # later than its exact widening, and an exact start still to come is no earlier
            # than the lattice's.
            self._soonest_withheld(shape.end)
            if shape.start > self.t:
                self._soonest_withheld(start)
            if shape.kind in ("aor", "area"):
                operating.add(shape.party)
            if shape.kind != "aor":
                pid = self.e._party_codes.values[shape.party] or "unknown"
                self.withheld[pid] = self.withheld.get(pid, 0) + 1

    def _shape_rel(self, shape: Shape) -> tuple[int, int]:
        payload = shape.payload
        if shape.kind == "movement":
            slot = self.e.assets.slot_of.get(payload.asset_id)
            owner = shape.party
            if payload.releasable_to is not None or slot is None:
                return owner, self.e._rel_code(
                    self.e._party_codes.values[owner], payload.releasable_to
                )
            return owner, int(self.e.assets.rel_code[slot])
        return shape.party, self.e._rel_code(payload.party_id, payload.releasable_to)

    def _shape_match(self, shape: Shape, d: float, start: float, end: float) -> None:
        if shape.kind == "movement":
            slot = self.e.assets.slot_of.get(shape.payload.asset_id)
            if slot is not None:
                self.matched_assets.append(shape.payload.asset_id)
        protected = shape.kind == "site" or (
            shape.kind == "area" and shape.payload.kind == "protected"
        )
        comparison = NOT_COMPARED
        if shape.kind == "movement":
            slot = self.e.assets.slot_of.get(shape.payload.asset_id)
            if slot is not None:
                comparison = self._comparison(int(self.e.assets.type_code[slot]))
        group = 0 if protected else 2
        self.found.append(
            (group, -comparison.score, d, shape.id, ("shape", shape, d, start, end, comparison))
        )

    def _presence_gaps(self, operating: set[int]) -> None:
        e = self.e
        for code in sorted(operating):
            party_id = e._party_codes.values[code]
            if party_id == self.asker or not party_id:
                continue
            # Another party's presence, at the cell's centre (its AOR was matched there).
            if not e.assets.fresh_presence(
                code, self.clat, self.clon, self.t, self.fresh, e.settings.gap_radius_m
            ):
                party = e.parties.get(party_id)
                name = party.name if party else party_id
                self.gaps.append(
                    CoverageGap(
                        party_id,
                        f"{name} operates here but has no position report under "
                        f"{wording.duration(self.fresh)} old within "
                        f"{wording.distance(e.settings.gap_radius_m)}.",
                    )
                )

    # assets past the horizon -----------------------------------------------------------

    def _past_horizon(self) -> None:
        e = self.e
        table = e.assets
        g = table.gather(self.lat, self.lon, self.t, self.r_obs, min_age_s=self.horizon)
        if len(g.slots) == 0:
            return
        within = (g.dist_m <= table.reach_m(g.slots, g.age_s, self.r_obs)) & self._vis(g.slots)
        for slot, age in zip(g.slots[within].tolist(), g.age_s[within].tolist(), strict=True):
            asset_id = table.ids[slot]
            assert asset_id is not None
            if self._area_stands_for(asset_id, self.t, self.t):
                continue
            party_id = e._party_codes.values[int(table.party[slot])]
            reason = (
                f"{e._callsign[slot]} has not reported for {wording.duration(age)}; "
                "it could be here."
            )
            self.gaps.append(CoverageGap(party_id, reason))

    def _withheld_past_horizon(self) -> None:
        """Withheld assets past the horizon, on the lattice: the gap names the party only."""
        if not self._any_withheld_asset:
            return
        e = self.e
        table = e.assets
        lattice = self.lattice
        step = lattice.step_s
        g = table.gather(
            self.clat,
            self.clon,
            self.tb,
            self.r_obs_q + 3 * self.hd + lattice.cell_m,
            min_age_s=max(0.0, self.horizon - step),
            lookahead_s=step,
        )
        slots = g.slots[~self._vis(g.slots)]
        if len(slots) == 0:
            return
        _, age_q = lattice.bucket_ages(self.tb, table.t0[slots])
        c0lat, c0lon = lattice.centres(table.lat[slots], table.lon[slots])
        d = geo.haversine_m(self.clat, self.clon, c0lat, c0lon)
        reach_q = lattice.up(table.a[slots] + table.v[slots] * age_q)
        within = (age_q >= self.horizon) & (d <= geo.widen(reach_q + self.r_obs_q + 2 * self.hd))
        for slot in slots[within].tolist():
            asset_id = table.ids[slot]
            assert asset_id is not None
            # The area must stand for it over the whole bucket: its window is withheld too.
            if self._area_stands_for(asset_id, self.tb, self.tb + step):
                continue
            party_id = e._party_codes.values[int(table.party[slot])]
            reason = (
                "An asset of this party has not reported for over "
                f"{wording.duration(self.horizon)}; it could be here."
            )
            self.gaps.append(CoverageGap(party_id, reason))

    def _area_stands_for(self, asset_id: str, start: float, end: float) -> bool:
        for area_id in self.e._areas_of_asset.get(asset_id, ()):
            area = self.e.areas.get(area_id)
            if area is None or area.kind != "operating":
                continue
            if area.start <= start <= end <= area.end:
                return True
        return False

    # the answer ----------------------------------------------------------------------

    def _result(self) -> CheckResult:
        s = self.e.settings
        entries: list[tuple[int, int, float, str, Any]] = list(self.found)
        for party_id in sorted(self.withheld):
            entries.append((1, 0, 0.0, party_id, ("withheld", party_id)))
        entries.sort(key=lambda x: (x[0], x[1], x[2], x[3]))
        listed = [self._word(entry[4]) for entry in entries[: s.max_matches]]
        gaps = tuple(self._dedup_gaps()[: s.max_gaps])
        # Assets beyond the best max_matches were counted, not queued.
        listed_assets = sum(1 for entry in entries if entry[4][0] == "asset")
        total = len(entries) - listed_assets + self.asset_total
        return CheckResult(
            verdict="HOLD" if total else "NO_KNOWN_MATCH",
            matches=tuple(listed),
            match_count=total,
            valid_until=wording.rfc3339(self.changes_at),
            coverage_gaps=gaps,
            evaluated_at=wording.rfc3339(self.now),
            matched_asset_ids=tuple(dict.fromkeys(self.matched_assets)),
        )

    def _dedup_gaps(self) -> list[CoverageGap]:
        seen: set[tuple[str, str]] = set()
        out = []
        for gap in self.gaps:
            key = (gap.party_id, gap.reason)
            if key not in seen:
                seen.add(key)
                out.append(gap)
        return out

    def _party_contact(self, party_id: str) -> str | None:
        party = self.e.parties.get(party_id)
        return party.contact if party else None

    def _word(self, entry: tuple[Any, ...]) -> Match:
        kind = entry[0]
        if kind == "asset":
            return self._word_asset(*entry[1:])
        if kind == "shape":
            return self._word_shape(*entry[1:])
        party_id = entry[1]
        party = self.e.parties.get(party_id)
        name = party.name if party else party_id
        contact = self._party_contact(party_id)
        return Match(
            kind=None,
            id=None,
            party_id=party_id,
            reasons=(
                f"Something registered by {name} could be here. Details are withheld: "
                f"contact {contact or 'its coordination cell'} before acting.",
            ),
            reason_codes=("DETAILS_WITHHELD",),
            details_withheld=True,
            contact=contact,
        )

    def _type_words(self, type_code: int) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
        """Per type, once per check: what it is, and the feature reasons and codes."""
        cached = self._asset_words.get(type_code)
        if cached is not None:
            return cached
        e = self.e
        type_id = e._type_codes.values[type_code]
        kind = e.types.get(type_id)
        if kind is not None:
            what = kind.name + f" ({kind.profile.mobility}"
            if kind.variant_of:
                base = e.types.get(kind.variant_of)
                what += f" variant of {base.name if base else kind.variant_of}"
            what += ")"
        else:
            what = f"type {type_id} (not in the catalogue)"
        codes: list[str] = []
        reasons = self._feature_words(self._comparison(type_code), codes)
        cached = (what, tuple(reasons), tuple(codes))
        self._asset_words[type_code] = cached
        return cached

    def _word_asset(
        self,
        slot: int,
        d: float,
        age: float,
        t0: float,
        type_code: int,
        party_code: int,
        v: float,
    ) -> Match:
        e = self.e
        what, feature_reasons, feature_codes = self._type_words(type_code)
        party_id = e._party_codes.values[party_code]
        when = "ago" if t0 <= self.t else "after the observed time"
        reason = (
            f"{e._callsign[slot]}, {what}, last seen {wording.distance(d)} away "
            f"{wording.duration(age)} {when}, can move {wording.speed(v)}"
        )
        stale = age > self.fresh
        if e.assets.anywhere[slot]:
            stale = True
            reasons_any: tuple[str, ...] = (
                f"{e._callsign[slot]}, {what}: its last stored report is out of physical "
                "range, so it could be anywhere.",
                *feature_reasons,
            )
            codes_any: tuple[str, ...] = ("ASSET_WITHIN_REACH", "REPORT_OUT_OF_RANGE")
            return Match(
                "asset",
                e.assets.ids[slot],
                party_id,
                reasons_any,
                (*codes_any, *feature_codes),
                self._comparison(type_code).conflicts,
                stale,
                False,
                e._contact[slot] or self._party_contact(party_id),
            )
        if stale:
            reasons: tuple[str, ...] = (
                reason,
                f"Its last report is over {wording.duration(self.fresh)} old.",
                *feature_reasons,
            )
            codes: tuple[str, ...] = ("ASSET_WITHIN_REACH", "REPORT_STALE", *feature_codes)
        else:
            reasons = (reason, *feature_reasons)
            codes = ("ASSET_WITHIN_REACH", *feature_codes)
        return Match(
            "asset",
            e.assets.ids[slot],
            party_id,
            reasons,
            codes,
            self._comparison(type_code).conflicts,
            stale,
            False,
            e._contact[slot] or self._party_contact(party_id),
        )

    @staticmethod
    def _feature_words(comparison: Comparison, codes: list[str]) -> list[str]:
        out = []
        if comparison.agreements:
            codes.append("FEATURES_AGREE")
            out.append("Agrees with what was seen: " + ", ".join(comparison.agreements) + ".")
        if comparison.conflicts:
            codes.append("FEATURES_CONFLICT")
            out.append(
                "Differs from what was seen: "
                + ", ".join(c.feature for c in comparison.conflicts)
                + " — the verdict stays HOLD."
            )
        return out

    def _word_shape(
        self, shape: Shape, d: float, start: float, end: float, comparison: Comparison
    ) -> Match:
        e = self.e
        payload = shape.payload
        codes: list[str] = []
        reasons: list[str] = []
        contact: str | None
        where = "here" if d <= 0 else f"{wording.distance(d)} away"
        if shape.kind == "site":
            party_id = payload.party_id
            label = payload.name or payload.id
            codes.append("PROTECTED_SITE")
            reasons.append(
                f"Protected {payload.kind} {label}: its centre is {wording.distance(d)} away "
                f"(radius {wording.distance(payload.radius_m)})."
            )
            contact = self._party_contact(party_id)
        elif shape.kind == "area":
            party_id = payload.party_id
            codes.append("PROTECTED_AREA" if payload.kind == "protected" else "OPERATING_AREA")
            inside = "Inside" if d <= 0 else f"{wording.distance(d)} from"
            reasons.append(
                f"{inside} {payload.kind} area {payload.id}, active until {wording.clock(end)}."
            )
            contact = self._party_contact(party_id)
        else:  # movement
            slot = e.assets.slot_of.get(payload.asset_id)
            party_id = e._party_codes.values[shape.party]
            callsign = e._callsign[slot] if slot is not None else payload.asset_id
            codes.append("MOVEMENT_CORRIDOR")
            reasons.append(
                f"{callsign} planned movement {payload.id}: route {where} "
                f"(corridor {wording.distance(payload.corridor_m)}), window "
                f"{wording.clock(payload.start)}–{wording.clock(payload.end)}."
            )
            reasons.extend(self._feature_words(comparison, codes))
            contact = (e._contact[slot] if slot is not None else None) or self._party_contact(
                party_id
            )
        return Match(
            kind=shape.kind,
            id=shape.id,
            party_id=party_id,
            reasons=tuple(reasons),
            reason_codes=tuple(codes),
            feature_conflicts=comparison.conflicts,
            contact=contact,
        )
