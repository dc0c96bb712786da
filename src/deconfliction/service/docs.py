"""Between domain models and the store's JSON documents and report rows."""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import ValidationError

from deconfliction.domain import limits
from deconfliction.domain.geo import GeoPoint
from deconfliction.domain.model import STORED, Model, PositionReport
from deconfliction.service.kinds import Kind
from deconfliction.store.times import format_time

#: Far enough ahead that stored reports are never "in the future" when reloaded.
_RELOAD_NOW = datetime(9000, 1, 1, tzinfo=UTC)

log = logging.getLogger(__name__)
M = TypeVar("M", bound=Model)

#: Numeric fields that bound where something could be: a stored value out of range in one
#: of them is read as the widest value, never a smaller one (docs/design/check.md).
#: Speeds become +inf (the engine's "anywhere" speed), a site's radius or a corridor the
#: whole earth.
_WIDEST: dict[str, float] = {
    "max_speed_kmh": math.inf,
    "radius_m": limits.ANYWHERE_REACH_M,
    "corridor_m": limits.ANYWHERE_REACH_M,
}
#: An in-range stand-in for such a field while the rest of the document is validated.
_STAND_IN: dict[str, float] = {"max_speed_kmh": 0.0, "radius_m": 0.0, "corridor_m": 0.0}


def to_doc(model: Model, raw: Any) -> dict[str, Any]:
    """The stored document of a validated model.

    An MGRS position is kept as the caller gave it, so that a reload restores the
    square's half-diagonal (the JSON form of a point is otherwise lat/lon only).
    """
    doc = model.model_dump(mode="json")
    if isinstance(raw, dict):
        position = raw.get("position")
        if isinstance(position, dict) and set(position) == {"mgrs"}:
            doc["position"] = {"mgrs": position["mgrs"]}
    return doc


def from_doc(kind: Kind, data: dict[str, Any]) -> Model:
    """Rebuild a model from its stored document (validated again: cheap, and safe)."""
    return stored_model(kind.model, data)


def stored_model(model: type[M], data: dict[str, Any]) -> M:
    """A stored document as its model, read as the widest it could mean.

    The time window of the edges is not applied (``STORED``): an older version took any
    time. A reach-bounding number out of range (a speed, a site's radius, a corridor:
    written by an older version or another node) is read as the widest value
    (``_WIDEST``), so that the engine never places something in less room than it may
    take. Anything else that does not validate is raised, as before."""
    try:
        return model.model_validate(data, context=STORED)
    except ValidationError as exc:
        fields = {str(e["loc"][0]) for e in exc.errors() if e.get("loc")}
        if not fields or not fields <= set(_WIDEST):
            raise
    patched = {**data, **{f: _STAND_IN[f] for f in fields}}
    value = model.model_validate(patched, context=STORED)
    log.warning(
        "stored %s %r: %s out of physical range; read as the widest value",
        model.__name__,
        data.get("id"),
        ", ".join(sorted(fields)),
    )
    return value.model_copy(update={f: _WIDEST[f] for f in fields})


def report_row(report: PositionReport) -> dict[str, Any]:
    row = report_store_row(report)
    row["time"] = format_time(report.time)
    return row


def report_store_row(report: PositionReport) -> dict[str, Any]:
    """:func:`report_row` for the store only: the time left an aware datetime, which the
    store formats once (the text form would be formatted here and checked there again)."""
    p = report.position
    return {
        "asset_id": report.asset_id,
        "time": report.time,
        "lat": p.lat,
        "lon": p.lon,
        "cep_m": report.cep_m,
        "extra_radius_m": p.extra_radius_m,
        "speed_kmh": report.speed_kmh,
        "course_deg": report.course_deg,
        "source": report.source,
    }


def report_from_row(row: dict[str, Any]) -> PositionReport:
    """A stored report row as a report. Never raises for a row's values: a row whose
    numbers or time are out of range (an older version's, another node's) comes back with
    an infinite CEP, which the engine places *anywhere* (``Engine.put_reports``)."""
    try:
        point = GeoPoint(
            float(row["lat"]), float(row["lon"]), float(row.get("extra_radius_m") or 0.0)
        )
        return PositionReport.model_validate(
            {
                "asset_id": row["asset_id"],
                "time": row["time"],
                "position": point,
                "cep_m": row["cep_m"],
                "speed_kmh": row.get("speed_kmh"),
                "course_deg": row.get("course_deg"),
                "source": row.get("source") or "authenticated",
            },
            context={"now": _RELOAD_NOW},
        )
    except (ValidationError, ValueError, TypeError, OverflowError):
        log.warning(
            "stored report of %r is out of physical range; its asset could be anywhere",
            row.get("asset_id"),
        )
        return PositionReport.model_construct(
            asset_id=str(row["asset_id"]),
            time=_stored_time(row.get("time")),
            position=GeoPoint(math.nan, math.nan, 0.0),
            cep_m=math.inf,
            speed_kmh=None,
            course_deg=None,
            source="plain" if row.get("source") == "plain" else "authenticated",
        )


def _stored_time(value: Any) -> datetime:
    """A stored report's time, or the earliest representable one when it is not a time."""
    try:
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if parsed.tzinfo is not None:
                return parsed
    except (ValueError, OverflowError):
        pass
    return datetime.min.replace(tzinfo=UTC)


def report_out(row: dict[str, Any]) -> dict[str, Any]:
    """A stored report row as the API shows it."""
    out: dict[str, Any] = {
        "asset_id": row["asset_id"],
        "time": row["time"],
        "position": {"lat": row["lat"], "lon": row["lon"]},
        "cep_m": row["cep_m"],
        "speed_kmh": row.get("speed_kmh"),
        "course_deg": row.get("course_deg"),
        "source": row.get("source"),
    }
    return out
