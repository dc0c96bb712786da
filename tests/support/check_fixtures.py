"""Small builders for check tests: a fixed clock, parties, types and a fresh engine."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from deconfliction.check.engine import Engine
from deconfliction.domain.geo import EARTH_RADIUS_M
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
from tests.support.clock import FIXED_NOW

M_PER_DEG_LAT = EARTH_RADIUS_M * 3.141592653589793 / 180


def party(pid: str, kind: str = "military") -> Party:
    return Party(id=pid, name=f"Party {pid.upper()}", kind=kind, contact=f"{pid} hotline 555-0100")


WHEELED = EquipmentType.model_validate(
    {
        "id": "sam-w",
        "name": "Rampart-W",
        "variant_of": "sam-t",
        "profile": {"mobility": "wheeled", "axles": 4, "features": ["radar", "launcher"]},
        "max_speed_kmh": 60,
        "confusable_with": [
            {"type_id": "radar-x", "cue": "Rampart-W carries launcher rails behind the cab."}
        ],
    }
)
TRACKED = EquipmentType.model_validate(
    {
        "id": "sam-t",
        "name": "Rampart-T",
        "profile": {"mobility": "tracked", "features": ["radar", "launcher"]},
        "max_speed_kmh": 45,
    }
)
RADAR_X = EquipmentType.model_validate(
    {
        "id": "radar-x",
        "name": "Type-X search radar",
        "profile": {"mobility": "wheeled", "features": ["radar", "dish"]},
        "max_speed_kmh": 70,
    }
)


def engine(*objects: Any, reports: tuple[PositionReport, ...] = ()) -> Engine:
    e = Engine()
    e.load(
        parties=[party("a"), party("b"), party("c", "humanitarian")],
        equipment_types=[TRACKED, WHEELED, RADAR_X],
    )
    for obj in objects:
        e.put(obj)
    e.put_reports(list(reports))
    return e


def asset(
    aid: str = "blue-7",
    party_id: str = "a",
    rel: list[str] | None = None,
    type_id: str = "sam-w",
    **kw: Any,
) -> Asset:
    return Asset(
        id=aid, party_id=party_id, type_id=type_id, callsign=aid.title(), releasable_to=rel, **kw
    )


def report(aid: str, lat: float, lon: float, ago: timedelta, cep: float = 10.0) -> PositionReport:
    return PositionReport.model_validate(
        {
            "asset_id": aid,
            "time": FIXED_NOW - ago,
            "position": {"lat": lat, "lon": lon},
            "cep_m": cep,
        },
        context={"now": FIXED_NOW},
    )


def observe(
    lat: float,
    lon: float,
    unit: str = "drone-1",
    cep: float = 50.0,
    time: datetime | None = None,
    **observed: Any,
) -> Observation:
    return Observation.model_validate(
        {
            "unit_id": unit,
            "time": time,
            "position": {"lat": lat, "lon": lon},
            "cep_m": cep,
            "observed": observed or {"certainty": "probable"},
        }
    )


def square(lat: float, lon: float, half_deg: float) -> dict[str, Any]:
    return {
        "type": "Polygon",
        "coordinates": [
            [
                [lon - half_deg, lat - half_deg],
                [lon + half_deg, lat - half_deg],
                [lon + half_deg, lat + half_deg],
                [lon - half_deg, lat + half_deg],
                [lon - half_deg, lat - half_deg],
            ]
        ],
    }


def area(
    aid: str,
    party_id: str,
    kind: str,
    geometry: dict[str, Any],
    start: timedelta,
    end: timedelta,
    **kw: Any,
) -> Area:
    return Area.model_validate(
        {
            "id": aid,
            "party_id": party_id,
            "kind": kind,
            "geometry": geometry,
            "start": FIXED_NOW + start,
            "end": FIXED_NOW + end,
            **kw,
        }
    )


def site(
    sid: str,
    lat: float,
    lon: float,
    radius: float,
    party_id: str = "c",
    rel: list[str] | None = None,
) -> Site:
    return Site.model_validate(
        {
            "id": sid,
            "party_id": party_id,
            "kind": "hospital",
            "position": {"lat": lat, "lon": lon},
            "radius_m": radius,
            "releasable_to": rel,
        }
    )


def unit(uid: str, party_id: str, aor: dict[str, Any]) -> Unit:
    return Unit.model_validate({"id": uid, "party_id": party_id, "name": uid, "aor": aor})


def movement(
    mid: str,
    asset_id: str,
    coords: list[list[float]],
    corridor: float,
    start: timedelta,
    end: timedelta,
) -> Movement:
    return Movement.model_validate(
        {
            "id": mid,
            "asset_id": asset_id,
            "route": {"type": "LineString", "coordinates": coords},
            "corridor_m": corridor,
            "start": FIXED_NOW + start,
            "end": FIXED_NOW + end,
        }
    )
