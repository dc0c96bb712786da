"""Between domain models and the store's JSON documents and report rows."""

from __future__ import annotations

import copy
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
    take. Any other number out of its range (a party's announcement lead, say) is read as
    the nearest value in range, so that one absurd document cannot stop the index from
    loading (every check would answer 503). Anything else that does not validate is
    raised, as before."""
    try:
        return model.model_validate(data, context=STORED)
    except ValidationError as exc:
        failure = exc
    errors = failure.errors()
    widest = {str(e["loc"][0]) for e in errors if len(e["loc"]) == 1 and e["loc"][0] in _WIDEST}
    patched = {**data, **{f: _STAND_IN[f] for f in widest}}
    clamped = _clamp_numbers(patched, [e for e in errors if str(e["loc"][0]) not in widest])
    if clamped is None:
        raise failure
    value = model.model_validate(clamped, context=STORED)
    log.warning(
        "stored %s %r: %s out of physical range; read as the widest value (reach) or the "
        "nearest in range",
        model.__name__,
        data.get("id"),
        ", ".join(sorted(".".join(map(str, e["loc"])) for e in errors)),
    )
    return value.model_copy(update={f: _WIDEST[f] for f in widest})


#: pydantic's error types for a number past a bound, and where the bound is.
_BOUND_ERRORS = {
    "less_than_equal": ("le", 0),
    "greater_than_equal": ("ge", 0),
    "less_than": ("lt", -1),
    "greater_than": ("gt", 1),
}


def _clamp_numbers(data: dict[str, Any], errors: list[Any]) -> dict[str, Any] | None:
    """``data`` (a deep copy where changed) with each number the ``errors`` name moved to
    the nearest value in range; ``None`` if any error is not a number out of range."""
    out: Any = copy.deepcopy(data)
    for error in errors:
        bound = _BOUND_ERRORS.get(error["type"])
        ctx = error.get("ctx") or {}
        if bound is None or bound[0] not in ctx or not isinstance(error.get("input"), float | int):
            return None
        limit = float(ctx[bound[0]])
        value = limit if bound[1] == 0 else math.nextafter(limit, bound[1] * math.inf)
        *path, last = error["loc"]
        parent = out
        try:
            for step in path:
                parent = parent[step]
            parent[last] = value
        except (KeyError, IndexError, TypeError):
            return None
    result: dict[str, Any] = out
    return result


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
