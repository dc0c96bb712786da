"""What a token may see on the map, as one GeoJSON FeatureCollection.

The web UI's map draws the signed-in unit's AOR, the areas, sites and movements
(corridors) it may see, and its visible assets at their last report. Every
object passes the same releasability rule as the lists (:meth:`Registry.visible`):
what a token may not see is not in the answer at all — not even counted. A
movement the reader may see whose asset it may not see carries no callsign and
no asset id. A check's position is never part of a map (principle 2): checks are
not read here.

Features carry ``properties.layer`` (``aor``, ``area``, ``site``, ``movement``,
``asset``) and a stable feature ``id`` (``"<layer>:<object id>"``). Areas and
movements whose window has ended are left out; ``properties.active`` tells
whether a window is open now. An asset appears at its newest authenticated
report (a plain-port report only when it has no authenticated one,
``source: "plain"``); an asset with no report is not placed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from deconfliction.domain import geo
from deconfliction.domain.errors import DomainError
from deconfliction.service.access import Principal
from deconfliction.service.core import Service
from deconfliction.service.errors import InvalidInput
from deconfliction.service.kinds import AREA, ASSET, MOVEMENT, SITE, UNIT, Kind
from deconfliction.service.map_assets import AssetPositions
from deconfliction.service.registry import Registry
from deconfliction.store.base import StoredObject
from deconfliction.store.times import format_time, parse_time

#: A report younger than this is fresh (docs/design/principles.md: the 15 min of ``stale``
#: and coverage gaps).
FRESH_S = 15 * 60

LAYERS: tuple[str, ...] = ("aor", "area", "site", "movement", "asset")


def _feature(layer: str, obj_id: str, geometry: Any, props: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": f"{layer}:{obj_id}",
        "geometry": geometry,
        "properties": {"layer": layer, "id": obj_id, **props},
    }


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_time(value)
    except ValueError:
        return None


def _window(data: dict[str, Any], now: datetime, start: str, end: str) -> tuple[bool, bool]:
    """(ended, active) of an object's time window at ``now``."""
    t0, t1 = _time(data.get(start)), _time(data.get(end))
    ended = t1 is not None and t1 < now
    active = (t0 is None or t0 <= now) and not ended
    return ended, active


def _point(value: Any) -> geo.GeoPoint | None:
    try:
        return geo.parse_point(value, "position")
    except DomainError:
        return None


class MapView:
    def __init__(
        self, service: Service, registry: Registry, positions: AssetPositions | None = None
    ) -> None:
        self.service = service
        self.store = service.store
        self.registry = registry
        self.positions = positions or AssetPositions()

    def collection(
        self,
        who: Principal,
        now: datetime | None = None,
        bbox: str | None = None,
        compact: bool = False,
    ) -> dict[str, Any]:
        """Every feature ``who`` may see, at ``now`` (UTC); with ``bbox``
        (``"west,south,east,north"``), only those that reach into that box (the unit's
        own AOR always)."""
        at = now or datetime.now(UTC)
        box = parse_bbox(bbox) if bbox is not None else None
        features = [
            *self._aor(who, at),
            *_within(box, self._areas(who, at)),
            *_within(box, self._sites(who)),
            *_within(box, self._movements(who, at)),
        ]
        assets = self._visible_assets(who, box)
        extra: dict[str, Any] = {}
        if compact:
            extra = {"assets": _columns(assets), "types": self._types_of(assets)}
        else:
            features.extend(self._asset_feature(a, at) for a in assets)
        return {
            "type": "FeatureCollection",
            "generated_at": format_time(at),
            "fresh_s": FRESH_S,
            "horizon_s": int(self.service.settings.horizon_hours * 3600),
            "bbox": None if box is None else list(box.bounds),
            "features": features,
            **extra,
        }

    def _visible(self, who: Principal, kind: Kind) -> Iterator[StoredObject]:
        for stored in self.store.iter_all(kind.name):
            if self.registry.visible(who, kind, stored):
                yield stored

    def _aor(self, who: Principal, now: datetime) -> list[dict[str, Any]]:
        if who.unit_id is None:
            return []
        stored = self.store.get(UNIT.name, who.unit_id)
        if stored is None or not self.registry.visible(who, UNIT, stored):
            return []
        data = stored.data
        _, active = _window(data, now, "aor_start", "aor_end")
        props = {
            "name": data.get("name"),
            "party_id": stored.party_id,
            "start": data.get("aor_start"),
            "end": data.get("aor_end"),
            "active": active,
        }
        return [_feature("aor", stored.id, data.get("aor"), props)]

    def _areas(self, who: Principal, now: datetime) -> Iterator[dict[str, Any]]:
        for stored in self._visible(who, AREA):
            data = stored.data
            ended, active = _window(data, now, "start", "end")
            if ended:
                continue
            props = {
                "kind": data.get("kind"),
                "party_id": stored.party_id,
                "start": data.get("start"),
                "end": data.get("end"),
                "active": active,
            }
            yield _feature("area", stored.id, data.get("geometry"), props)

    def _sites(self, who: Principal) -> Iterator[dict[str, Any]]:
        for stored in self._visible(who, SITE):
            data = stored.data
            point = _point(data.get("position"))
            if point is None:
                continue
            props = {
                "kind": data.get("kind"),
                "name": data.get("name"),
                "party_id": stored.party_id,
                "radius_m": float(data.get("radius_m") or 0.0) + point.extra_radius_m,
            }
            geometry = {"type": "Point", "coordinates": [point.lon, point.lat]}
            yield _feature("site", stored.id, geometry, props)

    def _movements(self, who: Principal, now: datetime) -> Iterator[dict[str, Any]]:
        for stored in self._visible(who, MOVEMENT):
            data = stored.data
            ended, active = _window(data, now, "start", "end")
            if ended:
                continue
            asset = self.store.get(ASSET.name, str(data.get("asset_id")))
            shown = asset is not None and self.registry.visible(who, ASSET, asset)
            props = {
                "party_id": stored.party_id,
                "asset_id": data.get("asset_id") if shown else None,
                "callsign": asset.data.get("callsign") if shown and asset else None,
                "corridor_m": data.get("corridor_m"),
                "start": data.get("start"),
                "end": data.get("end"),
                "active": active,
            }
            yield _feature("movement", stored.id, data.get("route"), props)

    def _visible_assets(self, who: Principal, box: Box | None) -> list[_Placed]:
        """The assets ``who`` may see with their newest report (inside ``box``), by id."""
        snap = self.positions.current(self.store)
        arrays = snap.arrays()
        visible_key = np.fromiter(
            (
                who.is_admin or who.may_see(owner, list(rel) if rel is not None else None)
                for owner, rel in arrays.keys
            ),
            dtype=bool,
            count=len(arrays.keys),
        )
        mask = visible_key[arrays.key] if len(arrays.keys) else np.zeros(0, dtype=bool)
        if box is not None:
            mask &= (arrays.lat >= box.south) & (arrays.lat <= box.north)
            if box.west <= box.east:
                mask &= (arrays.lon >= box.west) & (arrays.lon <= box.east)
            else:
                mask &= (arrays.lon >= box.west) | (arrays.lon <= box.east)
        out: list[_Placed] = []
        for i in np.flatnonzero(mask).tolist():
            asset_id = arrays.ids[i]
            row = snap.latest[asset_id]
            info = snap.assets[asset_id]
            kind = snap.types.get(str(info.data.get("type_id")), {})
            out.append(
                _Placed(
                    asset_id,
                    float(row["lat"]),
                    float(row["lon"]),
                    row,
                    info.party_id,
                    info.data,
                    kind,
                )
            )
        out.sort(key=lambda a: a.id)
        return out

    def _types_of(self, assets: list[_Placed]) -> dict[str, dict[str, Any]]:
        types: dict[str, dict[str, Any]] = {}
        for a in assets:
            type_id = str(a.data.get("type_id"))
            if type_id not in types:
                types[type_id] = {
                    "name": a.kind.get("name"),
                    "sidc": a.kind.get("sidc"),
                    "max_speed_kmh": a.kind.get("max_speed_kmh"),
                }
        return types

    def _asset_feature(self, a: _Placed, now: datetime) -> dict[str, Any]:
        row, data, kind = a.row, a.data, a.kind
        reported = _time(row["time"])
        age_s = (now - reported).total_seconds() if reported else None
        props = {
            "callsign": data.get("callsign"),
            "party_id": a.party_id,
            "type_id": str(data.get("type_id")),
            "type_name": kind.get("name"),
            "sidc": kind.get("sidc"),
            "max_speed_kmh": data.get("max_speed_kmh") or kind.get("max_speed_kmh"),
            "contact": data.get("contact"),
            "time": row["time"],
            "age_s": None if age_s is None else round(age_s, 1),
            "stale": age_s is None or age_s > FRESH_S,
            "cep_m": a.cep_m,
            "speed_kmh": row.get("speed_kmh"),
            "course_deg": row.get("course_deg"),
            "source": row.get("source") or "authenticated",
        }
        geometry = {"type": "Point", "coordinates": [a.lon, a.lat]}
        return _feature("asset", a.id, geometry, props)


@dataclass(frozen=True, slots=True)
class _Placed:
    """A visible asset at its newest report."""

    id: str
    lat: float
    lon: float
    row: dict[str, Any]
    party_id: str | None
    data: dict[str, Any]
    kind: dict[str, Any]

    @property
    def cep_m(self) -> float:
        return float(self.row["cep_m"]) + float(self.row.get("extra_radius_m") or 0.0)


#: The columns of the compact form's ``assets.rows`` (``compact=true``).
COMPACT_FIELDS: tuple[str, ...] = (
    "id",
    "lon",
    "lat",
    "time",
    "cep_m",
    "party_id",
    "type_id",
    "callsign",
    "max_speed_kmh",
    "contact",
    "speed_kmh",
    "course_deg",
    "source",
)


def _columns(assets: list[_Placed]) -> dict[str, Any]:
    """Assets as rows of ``COMPACT_FIELDS``: under half the bytes of GeoJSON features.
    ``max_speed_kmh`` is the asset's own limit (null: its type's, in ``types``)."""
    rows = [
        [
            a.id,
            a.lon,
            a.lat,
            a.row["time"],
            a.row["cep_m"] + (a.row.get("extra_radius_m") or 0.0),
            a.party_id,
            a.data.get("type_id"),
            a.data.get("callsign"),
            a.data.get("max_speed_kmh"),
            a.data.get("contact"),
            a.row.get("speed_kmh"),
            a.row.get("course_deg"),
            a.row.get("source") or "authenticated",
        ]
        for a in assets
    ]
    return {"fields": list(COMPACT_FIELDS), "rows": rows}


@dataclass(frozen=True, slots=True)
class Box:
    """A bounding box in degrees; ``west > east`` when it crosses ±180°."""

    west: float
    south: float
    east: float
    north: float

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return (self.west, self.south, self.east, self.north)

    def has(self, lat: float, lon: float) -> bool:
        if not self.south <= lat <= self.north:
            return False
        if self.west <= self.east:
            return self.west <= lon <= self.east
        return lon >= self.west or lon <= self.east

    def meets(self, west: float, south: float, east: float, north: float) -> bool:
        """Does a geometry's (non-crossing) bounding box reach into this box?"""
        if north < self.south or south > self.north:
            return False
        if self.west <= self.east:
            return not (east < self.west or west > self.east)
        return east >= self.west or west <= self.east


def _wrap(lon: float) -> float:
    return ((lon + 180.0) % 360.0) - 180.0 if not -180.0 <= lon <= 180.0 else lon


def parse_bbox(text: str) -> Box:
    """``"west,south,east,north"`` in degrees (a map view: longitudes may run past ±180°,
    they are wrapped; a view 360° wide or more is the whole world)."""
    parts = text.split(",")
    try:
        west, south, east, north = (float(p) for p in parts)
    except ValueError:
        raise InvalidInput(
            f"bbox must be four numbers west,south,east,north in degrees, got {text!r}",
            field="bbox",
        ) from None
    if not all(math.isfinite(v) for v in (west, south, east, north)):
        raise InvalidInput(f"bbox must be finite numbers, got {text!r}", field="bbox")
    if not (-90.0 <= south <= north <= 90.0):
        raise InvalidInput(
            f"bbox latitudes must satisfy -90 <= south <= north <= 90, got {text!r}",
            field="bbox",
        )
    if not (-540.0 <= west <= 540.0 and -540.0 <= east <= 540.0):
        raise InvalidInput(
            f"bbox longitudes must be within [-540, 540] (a map view), got {text!r}",
            field="bbox",
        )
    if east - west >= 360.0:
        return Box(-180.0, south, 180.0, north)
    if west > east and not (-180.0 <= east < west <= 180.0):
        raise InvalidInput(
            f"bbox west > east is only a box across ±180° with both within [-180, 180], "
            f"got {text!r}",
            field="bbox",
        )
    return Box(_wrap(west), south, _wrap(east), north)


def _bounds(coords: Any) -> tuple[float, float, float, float] | None:
    """(west, south, east, north) of GeoJSON coordinates at any nesting, or None if empty."""
    if not isinstance(coords, list | tuple) or not coords:
        return None
    first = coords[0]
    if isinstance(first, int | float):  # one position
        return (float(coords[0]), float(coords[1]), float(coords[0]), float(coords[1]))
    if isinstance(first, list | tuple) and first and isinstance(first[0], int | float):
        lons = [p[0] for p in coords]  # a list of positions: the common case, done in one go
        lats = [p[1] for p in coords]
        return (min(lons), min(lats), max(lons), max(lats))
    parts = [b for b in (_bounds(c) for c in coords) if b is not None]
    if not parts:
        return None
    return (
        min(b[0] for b in parts),
        min(b[1] for b in parts),
        max(b[2] for b in parts),
        max(b[3] for b in parts),
    )


def _reaches(box: Box, feature: dict[str, Any]) -> bool:
    geometry = feature["geometry"]
    bounds = _bounds(geometry.get("coordinates") if isinstance(geometry, dict) else None)
    if bounds is None:
        return False
    west, south, east, north = bounds
    props = feature["properties"]
    # A site's radius and a movement's corridor reach beyond their coordinates.
    reach_m = float(props.get("radius_m") or 0.0) + float(props.get("corridor_m") or 0.0)
    dlat = reach_m / 110_000.0
    widest = min(89.0, max(abs(south), abs(north)) + dlat)
    dlon = dlat / max(math.cos(math.radians(widest)), 0.01)
    return box.meets(west - dlon, south - dlat, east + dlon, north + dlat)


def _within(box: Box | None, features: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for feature in features:
        if box is None or _reaches(box, feature):
            yield feature
