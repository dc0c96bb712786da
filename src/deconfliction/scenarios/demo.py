"""The fictional demo: a wheeled air-defence variant arrives where a drone team works.

Every name, place and piece of equipment here is invented. The story retraces
the pattern the project started from (docs/design/principles.md): Westmark Army
moves its new wheeled Skyshield-W launcher "Bastion-2" east into the area of
Northland's drone team Kestrel 7. The tracked Skyshield-T is familiar to the drone team; the wheeled
variant is not, and from above it looks like another side's Type-88 search
radar truck. At ``now`` the drone team sees a wheeled vehicle with a radar and
a mast and asks the service before acting; the answer must be ``HOLD``.

Geography is fixed (an invented stretch of country around 48-49 N, 35-37 E);
every time is relative to the ``now`` given to :func:`build_demo`, so the demo
is always current. Bastion-2 loads half an hour before ``now`` and drives at
its maximum speed (60 km/h); its reports sit on the route at that pace. The
road runs south along Kestrel 7's west border and round its south-west
corner, a few kilometres outside, and only then turns north into the AOR:
the earliest possible arrival at the AOR boundary (docs/design/principles.md: movement start
plus along-route distance over maximum speed) is about 90 km out, an hour and
a half after loading, i.e. an hour after ``now``. At ``now`` Bastion-2 is
still outside the AOR; Kestrel 7's drone looks across the border, so the
point it checks lies a few kilometres outside the team's own area.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import shapely

from deconfliction.domain import geo
from deconfliction.domain.model import (
    Area,
    Asset,
    EquipmentType,
    Model,
    Movement,
    Observation,
    Party,
    PositionReport,
    Site,
    Unit,
)

Coords = Sequence[tuple[float, float]]

# --- identifiers (stable, for tests and the replay) --------------------------------------

NDF = "ndf"
WMA = "wma"
OHR = "ohr"

NDF_CELL = "ndf-jcc"
WMA_CELL = "wma-cc"
OHR_CELL = "ohr-fcc"
DRONE_TEAM = "ndf-kestrel-7"

SKYSHIELD_T = "skyshield-t"
SKYSHIELD_W = "skyshield-w"
TYPE_88 = "type-88-radar-truck"
DRONE_TEAM_TYPE = "kestrel-uas-team"
RELIEF_TRUCK = "relief-truck-3ax"

VARIANT_ASSET = "wma-bastion-2"
TRACKED_ASSET = "ndf-citadel-1"
DRONE_ASSET = "ndf-kestrel-7-vehicle"
CONVOY_ASSET = "ohr-hope-3"

VARIANT_MOVEMENT = "wma-bastion-2-march"
CONVOY_MOVEMENT = "ohr-hope-3-run"
SHELTER_AREA = "ohr-shelter-willowgate"
HOSPITAL_SITE = "ohr-field-hospital-meadowbrook"

# --- geography (lon, lat; invented) ------------------------------------------------------

#: Bastion-2's march from the Grenmoor depot to firing position Hill 214 (~104 km): south-east
#: to the valley road, south along Kestrel 7's west border (~3.7 km outside it), east along its
#: south border (~4 km outside), then north across that border ~90 km out.
VARIANT_ROUTE: tuple[tuple[float, float], ...] = (
    (35.62, 48.80),
    (35.92, 48.69),
    (35.92, 48.33),
    (36.192, 48.31),
    (36.21, 48.48),
)
#: Kestrel 7's area of responsibility; Bastion-2's route enters it across its south edge.
DRONE_TEAM_AOR: tuple[tuple[float, float], ...] = (
    (35.97, 48.36),
    (36.45, 48.34),
    (36.50, 48.55),
    (36.40, 48.72),
    (35.97, 48.70),
    (35.97, 48.36),
)
NDF_SECTOR = ((35.90, 48.00), (37.00, 48.00), (37.00, 49.00), (35.90, 49.00), (35.90, 48.00))
WMA_SECTOR = ((35.00, 48.00), (35.92, 48.00), (35.92, 49.00), (35.00, 49.00), (35.00, 48.00))
OHR_ZONE = ((36.30, 48.00), (37.00, 48.00), (37.00, 48.45), (36.30, 48.45), (36.30, 48.00))
#: The Open Hands convoy's run from the Eastbridge warehouse to the field hospital.
CONVOY_ROUTE: tuple[tuple[float, float], ...] = (
    (36.93, 48.07),
    (36.84, 48.12),
    (36.72, 48.17),
    (36.625, 48.217),
)
HOSPITAL = (36.62, 48.22)
SHELTER = (36.30, 48.41)
CITADEL_POSITION = (36.78, 48.74)
#: Kestrel 7's ground station, ~2.2 km inside its west border, ~6 km from the incident.
KESTREL_POSITION = (36.0, 48.63)

# --- the story's pace ----------------------------------------------------------------

VARIANT_MAX_SPEED_KMH = 60.0
#: The movement window opens (loading at the depot) this long before ``now``.
LOADING_BEFORE_NOW = timedelta(minutes=30)
MOVEMENT_AFTER_NOW = timedelta(hours=4)
#: Bastion-2 reports every five minutes since it left; the newest is this old at ``now``.
NEWEST_REPORT_AGE = timedelta(seconds=90)
REPORT_INTERVAL = timedelta(minutes=5)
REPORT_COUNT = 6
#: Where, along the route beyond Bastion-2's newest report, the drone team sees it.
INCIDENT_AHEAD_OF_NEWEST_M = 1_200.0
#: When Westmark registered the march (and the service announced it).
REGISTERED_BEFORE_LOADING = timedelta(minutes=20)
#: The announcement is due this long before the earliest possible entry (the documented
#: default, docs/design/principles.md).
ANNOUNCEMENT_LEAD = timedelta(minutes=30)


@dataclass(frozen=True)
class DemoNarrative:
    """Named moments of the story, for a replay timeline."""

    title: str
    summary: str
    now: datetime
    #: Westmark registers Bastion-2's march; the service announces it to Kestrel 7.
    arrival_announced_at: datetime
    #: The movement window opens: Bastion-2 leaves the depot.
    loading_at: datetime
    #: The announcement must be acknowledged by then (entry minus the lead time).
    announcement_deadline: datetime
    #: The earliest possible arrival at Kestrel 7's AOR boundary (route start at max speed).
    enters_drone_aor_at: datetime
    #: Kestrel 7 sees "a radar vehicle?" across its border and checks before acting.
    incident_at: datetime

    def timeline(self) -> list[tuple[datetime, str]]:
        """The moments in time order, each with one line of text."""
        events = [
            (self.arrival_announced_at, "Westmark registers Bastion-2's march; Kestrel 7 is told"),
            (self.loading_at, "Bastion-2 (Skyshield-W, wheeled) leaves the Grenmoor depot"),
            (self.announcement_deadline, "Kestrel 7's acknowledgement and briefing are due"),
            (self.enters_drone_aor_at, "Bastion-2 can first reach Kestrel 7's area"),
            (
                self.incident_at,
                "Kestrel 7's drone sees a wheeled radar vehicle across the border and checks: HOLD",
            ),
        ]
        return sorted(events, key=lambda event: event[0])


@dataclass(frozen=True)
class DemoScenario:
    """Everything the demo registers, and the check that must come out ``HOLD``."""

    parties: list[Party]
    units: list[Unit]
    equipment_types: list[EquipmentType]
    assets: list[Asset]
    reports: list[PositionReport]
    movements: list[Movement]
    areas: list[Area]
    sites: list[Site]
    incident_check: Observation
    narrative: DemoNarrative

    def records(self) -> list[Model]:
        """Every registered object, in an order that registers references first."""
        return [
            *self.parties,
            *self.units,
            *self.equipment_types,
            *self.assets,
            *self.movements,
            *self.areas,
            *self.sites,
            *self.reports,
        ]


# --- geometry helpers ------------------------------------------------------------------


def _segment_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    return geo.haversine_scalar_m(a[1], a[0], b[1], b[0])


def route_length_m(route: Coords) -> float:
    """Great-circle length of a lon/lat polyline."""
    return sum(_segment_m(a, b) for a, b in itertools.pairwise(route))


def point_along(route: Coords, metres: float) -> tuple[float, float]:
    """The (lon, lat) this many metres along a polyline (clamped to its ends)."""
    travelled = 0.0
    for a, b in itertools.pairwise(route):
        step = _segment_m(a, b)
        if step > 0 and travelled + step >= metres:
            f = max(0.0, (metres - travelled) / step)
            return (a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f)
        travelled += step
    return route[-1]


def entry_distance_m(route: Coords, ring: Coords) -> float | None:
    """Along-route distance at which a polyline first touches a polygon, or None."""
    polygon = shapely.Polygon(ring)
    travelled = 0.0
    for a, b in itertools.pairwise(route):
        segment = shapely.LineString([a, b])
        hit = segment.intersection(polygon)
        if not hit.is_empty:
            # The part of the segment inside the polygon nearest to its start.
            start = shapely.Point(a)
            nearest = min(
                (shapely.Point(xy) for part in getattr(hit, "geoms", [hit]) for xy in part.coords),
                key=start.distance,
            )
            return travelled + _segment_m(a, (nearest.x, nearest.y))
        travelled += _segment_m(a, b)
    return None


def _course_deg(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Initial great-circle bearing from a to b, degrees clockwise from north."""
    lat1, lat2 = math.radians(a[1]), math.radians(b[1])
    dlon = math.radians(b[0] - a[0])
    y = math.sin(dlon) * math.cos(lat2)
    x = math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2) * math.cos(dlon)
    return math.degrees(math.atan2(y, x)) % 360.0


def _heading_at(route: Coords, metres: float) -> float:
    here = point_along(route, metres)
    ahead = point_along(route, metres + 50.0)
    if ahead == here:
        here = point_along(route, metres - 50.0)
        ahead = point_along(route, metres)
    return round(_course_deg(here, ahead), 1)


def _polygon(ring: Coords) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[list(xy) for xy in ring]]}


def _line(route: Coords) -> dict[str, Any]:
    return {"type": "LineString", "coordinates": [list(xy) for xy in route]}


def _point(xy: tuple[float, float]) -> dict[str, float]:
    return {"lat": round(xy[1], 6), "lon": round(xy[0], 6)}


def _box(
    centre: tuple[float, float], half_lon: float, half_lat: float
) -> list[tuple[float, float]]:
    lon, lat = centre
    return [
        (lon - half_lon, lat - half_lat),
        (lon + half_lon, lat - half_lat),
        (lon + half_lon, lat + half_lat),
        (lon - half_lon, lat + half_lat),
        (lon - half_lon, lat - half_lat),
    ]


# --- the scenario ----------------------------------------------------------------------


def _parties() -> list[Party]:
    return [
        Party.model_validate(
            {
                "id": NDF,
                "name": "Northland Defence Force",
                "kind": "military",
                "contact": "NDF joint coordination hotline 555-0141, radio net NORTHSTAR-1",
            }
        ),
        Party.model_validate(
            {
                "id": WMA,
                "name": "Westmark Army",
                "kind": "military",
                "contact": "Westmark liaison desk 555-0172, radio net AMBER-3",
            }
        ),
        Party.model_validate(
            {
                "id": OHR,
                "name": "Open Hands Relief",
                "kind": "humanitarian",
                "contact": "Open Hands field security 555-0199, radio net HARBOUR",
            }
        ),
    ]


def _units() -> list[Unit]:
    return [
        Unit.model_validate(
            {
                "id": NDF_CELL,
                "party_id": NDF,
                "name": "Northland Joint Coordination Cell",
                "roles": ["coordination"],
                "aor": _polygon(NDF_SECTOR),
                "coordination_cell": True,
            }
        ),
        Unit.model_validate(
            {
                "id": WMA_CELL,
                "party_id": WMA,
                "name": "Westmark Coordination Cell",
                "roles": ["coordination"],
                "aor": _polygon(WMA_SECTOR),
                "coordination_cell": True,
            }
        ),
        Unit.model_validate(
            {
                "id": OHR_CELL,
                "party_id": OHR,
                "name": "Open Hands Field Coordination",
                "roles": ["coordination", "humanitarian_liaison"],
                "aor": _polygon(OHR_ZONE),
                "coordination_cell": True,
            }
        ),
        Unit.model_validate(
            {
                "id": DRONE_TEAM,
                "party_id": NDF,
                "name": "Kestrel Drone Team 7",
                "roles": ["drone_team"],
                "aor": _polygon(DRONE_TEAM_AOR),
                "tak_uids": ["ANDROID-ndf-kestrel7-lead"],
            }
        ),
    ]


def _equipment_types() -> list[EquipmentType]:
    return [
        EquipmentType.model_validate(
            {
                "id": SKYSHIELD_T,
                "name": "Skyshield-T tracked air-defence launcher",
                "profile": {
                    "mobility": "tracked",
                    "features": ["radar", "launcher"],
                    "size_class": "large",
                },
                "max_speed_kmh": 50,
                "sidc": "SFGPEWMAS-MQ---",
            }
        ),
        EquipmentType.model_validate(
            {
                "id": SKYSHIELD_W,
                "name": "Skyshield-W wheeled air-defence launcher",
                "variant_of": SKYSHIELD_T,
                "profile": {
                    "mobility": "wheeled",
                    "axles": 4,
                    "features": ["radar", "launcher", "antenna_mast"],
                    "size_class": "large",
                },
                "max_speed_kmh": VARIANT_MAX_SPEED_KMH,
                "sidc": "SFGPEWMAS-MP---",
                "confusable_with": [
                    {
                        "type_id": TYPE_88,
                        "cue": (
                            "Skyshield-W carries its launcher rails folded behind the cab; "
                            "the Type-88 has a single rotating dish and no rails."
                        ),
                    }
                ],
            }
        ),
        # Another side's vehicle: present only as the "looks like" half of the
        # Skyshield-W card. No symbol code, never registered as an asset.
        EquipmentType.model_validate(
            {
                "id": TYPE_88,
                "name": "Type-88 search radar truck",
                "profile": {
                    "mobility": "wheeled",
                    "axles": 3,
                    "features": ["radar", "dish", "antenna_mast"],
                    "size_class": "large",
                },
                "max_speed_kmh": 80,
            }
        ),
        EquipmentType.model_validate(
            {
                "id": DRONE_TEAM_TYPE,
                "name": "Kestrel UAS team (light pickup with ground station)",
                "profile": {
                    "mobility": "wheeled",
                    "axles": 2,
                    "features": ["antenna_mast", "cargo_bed"],
                    "size_class": "small",
                },
                "max_speed_kmh": 90,
                "sidc": "SFGPUCVU-------",
            }
        ),
        EquipmentType.model_validate(
            {
                "id": RELIEF_TRUCK,
                "name": "Relief cargo truck, 3-axle, emblem-marked",
                "profile": {
                    "mobility": "wheeled",
                    "axles": 3,
                    "features": ["cargo_bed", "protective_emblem"],
                    "size_class": "large",
                },
                "max_speed_kmh": 70,
                "sidc": "SNGPEVUX-------",
            }
        ),
    ]


def _assets() -> list[Asset]:
    return [
        Asset.model_validate(
            {
                "id": VARIANT_ASSET,
                "party_id": WMA,
                "type_id": SKYSHIELD_W,
                "callsign": "Bastion-2",
                "releasable_to": [NDF],
                "cot_uid": "WMA-BASTION-2",
                "contact": "Westmark air-defence ops, radio net AMBER-3",
            }
        ),
        Asset.model_validate(
            {
                "id": TRACKED_ASSET,
                "party_id": NDF,
                "type_id": SKYSHIELD_T,
                "callsign": "Citadel-1",
                "cot_uid": "NDF-CITADEL-1",
                "contact": "NDF air-defence ops, radio net NORTHSTAR-4",
            }
        ),
        Asset.model_validate(
            {
                "id": DRONE_ASSET,
                "party_id": NDF,
                "type_id": DRONE_TEAM_TYPE,
                "callsign": "Kestrel-7",
                "cot_uid": "ANDROID-ndf-kestrel7-lead",
            }
        ),
        Asset.model_validate(
            {
                "id": CONVOY_ASSET,
                "party_id": OHR,
                "type_id": RELIEF_TRUCK,
                "callsign": "Hope-3",
                "releasable_to": ["*"],
                "cot_uid": "OHR-HOPE-3",
                "contact": "Open Hands field security 555-0199",
            }
        ),
    ]


def build_demo(now: datetime) -> DemoScenario:
    """The demo scenario with every time relative to ``now`` (an aware datetime)."""
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    context = {"now": now}
    loading_at = now - LOADING_BEFORE_NOW
    speed_m_per_s = VARIANT_MAX_SPEED_KMH / 3.6

    def metres_at(t: datetime) -> float:
        return (t - loading_at).total_seconds() * speed_m_per_s

    reports: list[PositionReport] = []
    newest = now - NEWEST_REPORT_AGE
    for k in reversed(range(REPORT_COUNT)):
        t = newest - k * REPORT_INTERVAL
        along = metres_at(t)
        reports.append(
            PositionReport.model_validate(
                {
                    "asset_id": VARIANT_ASSET,
                    "time": t,
                    "position": _point(point_along(VARIANT_ROUTE, along)),
                    "cep_m": 15,
                    "speed_kmh": VARIANT_MAX_SPEED_KMH,
                    "course_deg": _heading_at(VARIANT_ROUTE, along),
                },
                context=context,
            )
        )

    convoy_start = now - timedelta(minutes=40)
    convoy_speed = 35.0 / 3.6
    for age_min in (22, 12, 2):
        t = now - timedelta(minutes=age_min)
        along = (t - convoy_start).total_seconds() * convoy_speed
        reports.append(
            PositionReport.model_validate(
                {
                    "asset_id": CONVOY_ASSET,
                    "time": t,
                    "position": _point(point_along(CONVOY_ROUTE, along)),
                    "cep_m": 10,
                    "speed_kmh": 35,
                    "course_deg": _heading_at(CONVOY_ROUTE, along),
                },
                context=context,
            )
        )
    reports.append(
        PositionReport.model_validate(
            {
                "asset_id": TRACKED_ASSET,
                "time": now - timedelta(minutes=8),
                "position": _point(CITADEL_POSITION),
                "cep_m": 10,
                "speed_kmh": 0,
            },
            context=context,
        )
    )
    reports.append(
        PositionReport.model_validate(
            {
                "asset_id": DRONE_ASSET,
                "time": now - timedelta(minutes=2),
                "position": _point(KESTREL_POSITION),
                "cep_m": 10,
                "speed_kmh": 0,
            },
            context=context,
        )
    )

    movements = [
        Movement.model_validate(
            {
                "id": VARIANT_MOVEMENT,
                "asset_id": VARIANT_ASSET,
                "route": _line(VARIANT_ROUTE),
                "corridor_m": 500,
                "start": loading_at,
                "end": now + MOVEMENT_AFTER_NOW,
                "releasable_to": [NDF],
            }
        ),
        Movement.model_validate(
            {
                "id": CONVOY_MOVEMENT,
                "asset_id": CONVOY_ASSET,
                "route": _line(CONVOY_ROUTE),
                "corridor_m": 300,
                "start": convoy_start,
                "end": now + timedelta(hours=3),
                "releasable_to": ["*"],
            }
        ),
    ]
    areas = [
        Area.model_validate(
            {
                "id": SHELTER_AREA,
                "party_id": OHR,
                "kind": "protected",
                "geometry": _polygon(_box(SHELTER, 0.004, 0.003)),
                "start": now - timedelta(days=7),
                "end": now + timedelta(days=30),
                "releasable_to": ["*"],
            }
        )
    ]
    sites = [
        Site.model_validate(
            {
                "id": HOSPITAL_SITE,
                "party_id": OHR,
                "kind": "hospital",
                "name": "Meadowbrook Field Hospital",
                "position": _point(HOSPITAL),
                "radius_m": 300,
                "releasable_to": ["*"],
            }
        )
    ]

    incident_along = metres_at(newest) + INCIDENT_AHEAD_OF_NEWEST_M
    incident_check = Observation.model_validate(
        {
            "unit_id": DRONE_TEAM,
            "time": now,
            "position": _point(point_along(VARIANT_ROUTE, incident_along)),
            "cep_m": 50,
            "observed": {
                "mobility": "wheeled",
                "features": ["radar", "antenna_mast"],
                "certainty": "probable",
            },
            "note": "radar vehicle?",
        }
    )

    entry_m = entry_distance_m(VARIANT_ROUTE, DRONE_TEAM_AOR)
    if entry_m is None:  # pragma: no cover - the fixed geography guarantees an entry
        raise RuntimeError("the demo route no longer enters the drone team's AOR")
    enters_at = loading_at + timedelta(seconds=entry_m / speed_m_per_s)
    announced_at = loading_at - REGISTERED_BEFORE_LOADING
    narrative = DemoNarrative(
        title="Bastion-2 arrives where Kestrel 7 flies",
        summary=(
            "Westmark Army moves its new wheeled Skyshield-W launcher Bastion-2 from the "
            "Grenmoor depot to Hill 214, into the area of Northland's Kestrel Drone Team 7: "
            "the road runs along the team's west and south borders, a few kilometres "
            "outside, and can first reach the area an hour after Bastion-2 loads. Kestrel 7 "
            "knows the tracked Skyshield-T, not the wheeled variant, which from above looks "
            "like a Type-88 search radar truck. Half an hour after loading, Kestrel 7's drone, "
            "looking across the border, sees a wheeled vehicle with a radar and a mast just "
            "outside the team's area, 'radar vehicle?', and checks before acting: the answer "
            "is HOLD, naming Bastion-2 and the cue that tells the two apart."
        ),
        now=now,
        arrival_announced_at=announced_at,
        loading_at=loading_at,
        announcement_deadline=max(announced_at, enters_at - ANNOUNCEMENT_LEAD),
        enters_drone_aor_at=enters_at,
        incident_at=now,
    )
    return DemoScenario(
        parties=_parties(),
        units=_units(),
        equipment_types=_equipment_types(),
        assets=_assets(),
        reports=reports,
        movements=movements,
        areas=areas,
        sites=sites,
        incident_check=incident_check,
        narrative=narrative,
    )
