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

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from deconfliction.domain import geo
from deconfliction.domain.errors import DomainError
from deconfliction.service.access import Principal
from deconfliction.service.core import Service
from deconfliction.service.kinds import AREA, ASSET, EQUIPMENT_TYPE, MOVEMENT, SITE, UNIT, Kind
from deconfliction.service.registry import Registry
from deconfliction.store.base import StoredObject
from deconfliction.store.times import format_time, parse_time

#: A report younger than this is fresh (DESIGN.md: the 15 min of ``stale`` and coverage gaps).
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
    def __init__(self, service: Service, registry: Registry) -> None:
        self.svc = service
        self.store = service.store
        self.registry = registry

    def collection(self, who: Principal, now: datetime | None = None) -> dict[str, Any]:
        """Every feature ``who`` may see, at ``now`` (UTC)."""
        at = now or datetime.now(UTC)
        features = [
            *self._aor(who, at),
            *self._areas(who, at),
            *self._sites(who),
            *self._movements(who, at),
            *self._assets(who, at),
        ]
        return {
            "type": "FeatureCollection",
            "generated_at": format_time(at),
            "fresh_s": FRESH_S,
            "horizon_s": int(self.svc.settings.horizon_hours * 3600),
            "features": features,
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

    def _assets(self, who: Principal, now: datetime) -> list[dict[str, Any]]:
        assets = {stored.id: stored for stored in self._visible(who, ASSET)}
        if not assets:
            return []
        latest: dict[str, dict[str, Any]] = {}
        for row in self.store.latest_reports():
            asset_id = row["asset_id"]
            if asset_id not in assets:
                continue
            have = latest.get(asset_id)
            if have is None or _better(row, have):
                latest[asset_id] = row
        types: dict[str, dict[str, Any]] = {}
        out: list[dict[str, Any]] = []
        for asset_id in sorted(latest):
            row = latest[asset_id]
            data = assets[asset_id].data
            type_id = str(data.get("type_id"))
            if type_id not in types:
                stored_type = self.store.get(EQUIPMENT_TYPE.name, type_id)
                types[type_id] = stored_type.data if stored_type else {}
            kind = types[type_id]
            reported = _time(row["time"])
            age_s = (now - reported).total_seconds() if reported else None
            props = {
                "callsign": data.get("callsign"),
                "party_id": assets[asset_id].party_id,
                "type_id": type_id,
                "type_name": kind.get("name"),
                "sidc": kind.get("sidc"),
                "max_speed_kmh": data.get("max_speed_kmh") or kind.get("max_speed_kmh"),
                "contact": data.get("contact"),
                "time": row["time"],
                "age_s": None if age_s is None else round(age_s, 1),
                "stale": age_s is None or age_s > FRESH_S,
                "cep_m": float(row["cep_m"]) + float(row.get("extra_radius_m") or 0.0),
                "speed_kmh": row.get("speed_kmh"),
                "course_deg": row.get("course_deg"),
                "source": row.get("source") or "authenticated",
            }
            geometry = {"type": "Point", "coordinates": [float(row["lon"]), float(row["lat"])]}
            out.append(_feature("asset", asset_id, geometry, props))
        return out


def _better(row: dict[str, Any], have: dict[str, Any]) -> bool:
    """Prefer an authenticated report over a plain one, then the newer."""
    auth_row = (row.get("source") or "authenticated") == "authenticated"
    auth_have = (have.get("source") or "authenticated") == "authenticated"
    if auth_row != auth_have:
        return auth_row
    return str(row["time"]) > str(have["time"])
