"""Between domain models and the store's JSON documents and report rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from deconfliction.domain.geo import GeoPoint
from deconfliction.domain.model import Model, PositionReport
from deconfliction.service.kinds import Kind
from deconfliction.store.times import format_time

#: Far enough ahead that stored reports are never "in the future" when reloaded.
_RELOAD_NOW = datetime(9000, 1, 1, tzinfo=UTC)


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
    return kind.model.model_validate(data)


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
    point = GeoPoint(float(row["lat"]), float(row["lon"]), float(row.get("extra_radius_m") or 0.0))
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
