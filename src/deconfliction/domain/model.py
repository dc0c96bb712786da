"""The domain model: what is registered, reported and asked.

Inputs are pydantic models, validated at the edge: every error names the field
and the value. Stored geometry is kept as normalised GeoJSON (antimeridian
crossings split per RFC 7946), times are normalised to UTC.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from deconfliction.domain import geo, limits, vocabulary, wording
from deconfliction.domain.errors import DomainError

#: A report more than this far in the future is rejected.
MAX_REPORT_FUTURE = timedelta(seconds=30)

Identifier = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$",
        description="Letters, digits and . _ : - ; at most 64 characters.",
    ),
]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]
LongText = Annotated[str, Field(max_length=2000)]


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError(f"must be a finite number, got {value!r}")
    return value


FiniteFloat = Annotated[float, Field(allow_inf_nan=False), AfterValidator(_finite)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
#: A CEP, metres (domain/limits.py).
Cep = Annotated[float, Field(ge=0, le=limits.MAX_CEP_M, allow_inf_nan=False)]
#: A speed, km/h (domain/limits.py).
Speed = Annotated[float, Field(ge=0, le=limits.MAX_SPEED_KMH, allow_inf_nan=False)]

#: Validation context of a document read back from the store (``{"stored": True}``): the
#: time window is not applied to it, since an older version took any time and refusing the
#: document would stop the index from loading. The engine decides what an out-of-range
#: stored value means (docs/design/check.md, "Out-of-range stored values").
STORED = {"stored": True}


def _is_stored(info: ValidationInfo) -> bool:
    context = info.context
    return isinstance(context, dict) and bool(context.get("stored"))


def _utc(value: datetime, info: ValidationInfo) -> datetime:
    if _is_stored(info):
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValueError(f"not a representable UTC time: {value!r}") from None
    # Checked before the conversion, which overflows near year 1 and year 9999.
    return limits.check_time(value)


UtcTime = Annotated[AwareDatetime, AfterValidator(_utc)]


def _point(value: Any) -> geo.GeoPoint:
    if isinstance(value, geo.GeoPoint):  # built by a codec (CoT) or read from the store
        geo.check_lat_lon(value.lat, value.lon, "position")
        extra = value.extra_radius_m
        if not 0.0 <= extra <= limits.MAX_EFFECTIVE_CEP_M:
            raise DomainError("position", f"extra radius out of range: {extra!r}", extra)
        return value
    return geo.parse_point(value, "position")


def _point_out(value: geo.GeoPoint) -> dict[str, float]:
    return {"lat": value.lat, "lon": value.lon}


_POINT_SCHEMA = {
    "oneOf": [
        {
            "type": "object",
            "properties": {
                "lat": {"type": "number", "minimum": -90, "maximum": 90},
                "lon": {"type": "number", "minimum": -180, "maximum": 180},
            },
            "required": ["lat", "lon"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {"mgrs": {"type": "string", "example": "37UDB1234567890"}},
            "required": ["mgrs"],
            "additionalProperties": False,
        },
    ]
}

Position = Annotated[
    geo.GeoPoint,
    PlainValidator(_point),
    PlainSerializer(_point_out, return_type=dict),
    WithJsonSchema(_POINT_SCHEMA),
]


def _geometry(kind: str, field: str) -> Any:
    def validate(value: Any, info: ValidationInfo) -> dict[str, Any]:
        # Errors name the model's own field (``aor``, ``geometry``, ``route``).
        geom = geo.parse_geometry(value, kind, info.field_name or field)
        out: dict[str, Any] = _as_lists(mapping(geom))
        return out

    return validate


def _as_lists(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _as_lists(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_as_lists(v) for v in value]
    return value


_POLYGON_SCHEMA = {
    "type": "object",
    "description": "GeoJSON Polygon or MultiPolygon (lon, lat; WGS 84)",
    "properties": {
        "type": {"enum": ["Polygon", "MultiPolygon"]},
        "coordinates": {"type": "array"},
    },
    "required": ["type", "coordinates"],
}
_LINE_SCHEMA = {
    "type": "object",
    "description": "GeoJSON LineString (lon, lat; WGS 84)",
    "properties": {"type": {"enum": ["LineString"]}, "coordinates": {"type": "array"}},
    "required": ["type", "coordinates"],
}

PolygonGeoJSON = Annotated[
    dict[str, Any],
    PlainValidator(_geometry("polygon", "geometry")),
    WithJsonSchema(_POLYGON_SCHEMA),
]
LineGeoJSON = Annotated[
    dict[str, Any], PlainValidator(_geometry("line", "route")), WithJsonSchema(_LINE_SCHEMA)
]


def _mobility(word: str) -> str:
    return vocabulary.current().require_mobility(word)


def _feature(word: str) -> str:
    return vocabulary.current().require_feature(word)


def _size_class(word: str) -> str:
    return vocabulary.current().require_size_class(word)


Mobility = Annotated[str, AfterValidator(_mobility)]
Feature = Annotated[str, AfterValidator(_feature)]
SizeClass = Annotated[str, AfterValidator(_size_class)]
#: A party id, or "*" for every party.
PartyOrAll = Annotated[
    str,
    Field(min_length=1, max_length=64, pattern=r"^(?:\*|[A-Za-z0-9][A-Za-z0-9._:\-]*)$"),
]
Releasability = Annotated[list[PartyOrAll], Field(max_length=500)]


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Windowed(Model):
    """Anything active from ``start`` to ``end``."""

    @field_validator("end", "aor_end", check_fields=False)
    @classmethod
    def _window_in_order(cls, end: datetime | None, info: ValidationInfo) -> datetime | None:
        # A field validator, so that the error's location names the end field.
        start = info.data.get("start") or info.data.get("aor_start")
        if start is not None and end is not None and end < start:
            raise DomainError(
                info.field_name or "end",
                f"window ends ({end.isoformat()}) before it starts ({start.isoformat()})",
                end,
            )
        return end

    def active_at(self, t: datetime) -> bool:
        start = getattr(self, "start", None) or getattr(self, "aor_start", None)
        end = getattr(self, "end", None) or getattr(self, "aor_end", None)
        return (start is None or start <= t) and (end is None or t <= end)


class Party(Model):
    id: Identifier
    name: ShortText
    kind: Literal["military", "humanitarian", "civil"]
    contact: ShortText = Field(description="Out-of-band contact: hotline, radio net.")
    announcement_lead_min: float | None = Field(
        default=None,
        ge=0,
        le=limits.MAX_LEAD_MIN,
        allow_inf_nan=False,
        description=(
            "How long before an asset can first enter one of this party's units' areas the "
            "unit must answer its announcement (minutes); the service's default (30) if unset."
        ),
    )
    min_answer_min: float | None = Field(
        default=None,
        ge=0,
        le=limits.MAX_MIN_ANSWER_MIN,
        allow_inf_nan=False,
        description=(
            "The least time this party's units are given to answer an announcement "
            "(minutes): an announcement is due at the later of its lead-time deadline and "
            "now plus this; the service's default (5) if unset."
        ),
    )


class Unit(Windowed):
    id: Identifier
    party_id: Identifier
    name: ShortText
    roles: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=32)
    aor: PolygonGeoJSON
    aor_start: UtcTime | None = None
    aor_end: UtcTime | None = None
    tak_uids: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(
        default_factory=list, max_length=64
    )
    coordination_cell: bool = False
    time_zone: Annotated[str, Field(max_length=64)] | None = Field(
        default=None,
        description=(
            "The unit's IANA time zone (e.g. Europe/Berlin): texts for it show local time "
            "beside the UTC time. UTC alone if unset."
        ),
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or wording.time_zone(value) is not None:
            return value
        if _is_stored(info):
            return None  # written by another version: read as UTC, never refuse to load
        raise ValueError(f"unknown IANA time zone {value!r} (e.g. Europe/Berlin, UTC)")

    @cached_property
    def aor_shape(self) -> BaseGeometry:
        return geo.geometry_from_geojson(self.aor)


class RecognitionProfile(Model):
    mobility: Mobility
    axles: Annotated[int, Field(ge=0, le=20)] | None = None
    features: list[Feature] = Field(default_factory=list, max_length=32)
    size_class: SizeClass | None = None


class Confusable(Model):
    type_id: Identifier
    cue: Annotated[str, Field(min_length=1, max_length=500)] = Field(
        description="What tells the two apart."
    )


class EquipmentType(Model):
    id: Identifier
    name: ShortText
    variant_of: Identifier | None = None
    profile: RecognitionProfile
    max_speed_kmh: Speed
    sidc: Annotated[str, Field(pattern=r"^[A-Za-z0-9\-*]{10,30}$")] | None = None
    picture_url: Annotated[str, Field(max_length=500)] | None = None
    confusable_with: list[Confusable] = Field(default_factory=list, max_length=32)


class Asset(Model):
    id: Identifier
    party_id: Identifier
    type_id: Identifier
    callsign: ShortText
    releasable_to: Releasability | None = Field(
        default=None, description='["*"] for every party, or party ids; default: the owner only.'
    )
    cot_uid: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    contact: ShortText | None = None
    max_speed_kmh: Speed | None = None


class PositionReport(Model):
    asset_id: Identifier
    time: UtcTime
    position: Position
    cep_m: Cep
    speed_kmh: Speed | None = None
    course_deg: (
        Annotated[float, Field(ge=0, lt=limits.COURSE_MAX_DEG, allow_inf_nan=False)] | None
    ) = None
    source: Literal["authenticated", "plain"] = "authenticated"

    @field_validator("time")
    @classmethod
    def _not_in_future(cls, value: datetime, info: ValidationInfo) -> datetime:
        now = (info.context or {}).get("now") or datetime.now(UTC)
        if value > now + MAX_REPORT_FUTURE:
            raise DomainError("time", f"{value.isoformat()} is more than 30 s in the future", value)
        return value

    @property
    def effective_cep_m(self) -> float:
        """CEP plus what an MGRS square adds (as a CEP, through the 99 % factor)."""
        return self.cep_m + self.position.extra_radius_m / geo.R99_PER_CEP


class Movement(Windowed):
    id: Identifier
    asset_id: Identifier
    route: LineGeoJSON
    corridor_m: Annotated[float, Field(ge=0, le=limits.MAX_CORRIDOR_M, allow_inf_nan=False)]
    start: UtcTime
    end: UtcTime
    releasable_to: Releasability | None = None

    @cached_property
    def route_shape(self) -> BaseGeometry:
        return geo.geometry_from_geojson(self.route)


class Area(Windowed):
    id: Identifier
    party_id: Identifier
    kind: Literal["operating", "protected"]
    geometry: PolygonGeoJSON
    start: UtcTime
    end: UtcTime
    asset_ids: list[Identifier] = Field(default_factory=list, max_length=10_000)
    releasable_to: Releasability | None = None

    @cached_property
    def shape(self) -> BaseGeometry:
        return geo.geometry_from_geojson(self.geometry)


class Site(Model):
    id: Identifier
    party_id: Identifier
    kind: Annotated[str, Field(min_length=1, max_length=64)] = Field(
        description="hospital, shelter, warehouse, ..."
    )
    position: Position
    radius_m: Annotated[float, Field(ge=0, le=limits.MAX_SITE_RADIUS_M, allow_inf_nan=False)]
    releasable_to: Releasability | None = None
    name: ShortText | None = None


class Observed(Model):
    mobility: Mobility | None = None
    features: list[Feature] = Field(default_factory=list, max_length=32)
    certainty: Literal["probable", "certain"] = "probable"


class Observation(Model):
    """A check: a unit saw something and asks whether anything registered could be there."""

    unit_id: Identifier
    time: UtcTime | None = None
    position: Position
    cep_m: Cep
    observed: Observed = Field(default_factory=Observed)
    note: LongText | None = None

    @property
    def effective_cep_m(self) -> float:
        return self.cep_m + self.position.extra_radius_m / geo.R99_PER_CEP


def visible_to(owner_party: str, releasable_to: list[str] | None, party: str | None) -> bool:
    """Owner-only unless ``releasable_to`` lists the party or ``"*"``."""
    if party is None:
        return False
    if party == owner_party:
        return True
    if not releasable_to:
        return False
    return "*" in releasable_to or party in releasable_to
