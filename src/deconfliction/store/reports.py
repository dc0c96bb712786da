"""Position report rows: turning report dicts into stored rows, and picking the latest.

Pure functions shared by every backend. A report dict has the keys of
``base.REPORT_FIELDS``: ``asset_id``, ``time`` (RFC 3339 with a zone, or an
aware datetime), ``lat``, ``lon``, ``cep_m``, and optionally ``extra_radius_m``
(default 0), ``speed_kmh``, ``course_deg`` (default none) and ``source``
(default ``authenticated``). Ranges are enforced by the schema's CHECK
constraints, so a bad value anywhere in a batch aborts the whole batch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from deconfliction.store.errors import StoreError
from deconfliction.store.times import canonical_time

#: A stored report row, in ``REPORT_FIELDS`` order.
ReportRow = tuple[str, str, float, float, float, float, float | None, float | None, str]


def _number(report: dict[str, Any], key: str) -> float:
    value = float(report[key])
    if not math.isfinite(value):
        raise ValueError(f"{key} must be a finite number, got {value!r}")
    return value


def _optional(report: dict[str, Any], key: str) -> float | None:
    value = report.get(key)
    if value is None:
        return None
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{key} must be a finite number, got {number!r}")
    return number


def to_row(report: dict[str, Any]) -> ReportRow:
    """One report dict as a row; ``KeyError``/``ValueError``/``TypeError`` if malformed."""
    try:
        row = _plain_row(report)
    except Exception:  # whichever: the field-by-field pass raises the one it always did
        row = None
    # Anything amiss: again field by field, which says (raises) what, as it always did.
    return row if row is not None else _checked_row(report)


def _plain_row(report: dict[str, Any]) -> ReportRow | None:
    """The row of a well-formed report (every report of a batch, but the rare bad one), or
    ``None``: its numbers are checked finite at once (a sum of finite numbers is finite
    unless it overflows, and any NaN or infinity makes it NaN or infinite), not with a
    function call each: this runs for every report of every batch."""
    asset_id = report["asset_id"]
    if not isinstance(asset_id, str) or not asset_id:
        return None
    time = canonical_time(report["time"])
    lat = float(report["lat"])
    lon = float(report["lon"])
    cep_m = float(report["cep_m"])
    extra = report.get("extra_radius_m")
    extra_m = 0.0 if extra is None else float(extra)
    speed = report.get("speed_kmh")
    speed_kmh = None if speed is None else float(speed)
    course = report.get("course_deg")
    course_deg = None if course is None else float(course)
    total = lat + lon + cep_m + extra_m
    if speed_kmh is not None:
        total += speed_kmh
    if course_deg is not None:
        total += course_deg
    if not math.isfinite(total):
        return None
    source = str(report.get("source") or "authenticated")
    return (asset_id, time, lat, lon, cep_m, extra_m, speed_kmh, course_deg, source)


def _checked_row(report: dict[str, Any]) -> ReportRow:
    asset_id = report["asset_id"]
    if not isinstance(asset_id, str) or not asset_id:
        raise ValueError(f"asset_id must be a non-empty string, got {asset_id!r}")
    extra = report.get("extra_radius_m")
    return (
        asset_id,
        canonical_time(report["time"]),
        _number(report, "lat"),
        _number(report, "lon"),
        _number(report, "cep_m"),
        0.0 if extra is None else _number(report, "extra_radius_m"),
        _optional(report, "speed_kmh"),
        _optional(report, "course_deg"),
        str(report.get("source") or "authenticated"),
    )


def to_rows(reports: Sequence[dict[str, Any]]) -> list[ReportRow]:
    """Every report as a row, or ``StoreError`` naming the first malformed one by index."""
    rows: list[ReportRow] = []
    append = rows.append
    for index, report in enumerate(reports):
        try:
            append(to_row(report))
        except (KeyError, ValueError, TypeError) as exc:
            detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
            raise StoreError(f"report {index}: {detail}") from exc
    return rows


def latest_rows(rows: Iterable[ReportRow]) -> list[ReportRow]:
    """The newest row by report time per ``(asset_id, source)``; on a tie, the later one."""
    latest: dict[tuple[str, str], ReportRow] = {}
    for row in rows:
        key = (row[0], row[8])  # asset_id, source
        current = latest.get(key)
        if current is None or row[1] >= current[1]:  # time
            latest[key] = row
    return list(latest.values())
