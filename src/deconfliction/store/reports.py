"""Position reports in the store: report dicts as rows, the latest per asset, the batch write.

A report dict has the keys of ``base.REPORT_FIELDS``: ``asset_id``, ``time`` (RFC 3339
with a zone, or an aware datetime), ``lat``, ``lon``, ``cep_m``, and optionally
``extra_radius_m`` (default 0), ``speed_kmh``, ``course_deg`` (default none) and
``source`` (default ``authenticated``). Ranges are enforced by the schema's CHECK
constraints, so a bad value anywhere in a batch aborts the whole batch.

:class:`ReportSQL` holds the ``Store``'s report methods for both backends. A batch is one
transaction: its event (the whole batch as the payload), every row in ``reports``, and
the newest row per ``(asset_id, source)`` upserted into ``latest_reports`` (kept only if
it is not older than the stored one). Only how the rows go in is each backend's
(``_report_writer``: SQLite's ``executemany``, PostgreSQL's binary ``COPY``), the batch
path's one real dialect difference.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from deconfliction.store.backend_sql import BackendSQL
from deconfliction.store.base import REPORT_FIELDS, require_actor
from deconfliction.store.errors import StoreError
from deconfliction.store.jsontext import dumps
from deconfliction.store.times import canonical_time

#: A stored report row, in ``REPORT_FIELDS`` order.
ReportRow = tuple[str, str, float, float, float, float, float | None, float | None, str]
#: Writes a prepared batch's rows, given its event's seq and its receipt time.
ReportWriter = Callable[[int, str], None]

REPORT_COLUMNS = ", ".join(REPORT_FIELDS)
#: How a batch's latest row replaces the stored one of its asset and source; each
#: backend's upsert ends with it and its time comparison (``WHERE excluded.time >=
#: latest_reports.time``: never an older report over a newer one).
ON_CONFLICT_LATEST = (
    "ON CONFLICT (asset_id, source) DO UPDATE SET "
    "time = excluded.time, lat = excluded.lat, lon = excluded.lon, cep_m = excluded.cep_m, "
    "extra_radius_m = excluded.extra_radius_m, speed_kmh = excluded.speed_kmh, "
    "course_deg = excluded.course_deg, received_at = excluded.received_at, "
    "event_seq = excluded.event_seq "
)


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


class ReportSQL(BackendSQL):
    """The report methods of the ``Store`` protocol (see the module docstring)."""

    def _report_writer(
        self, rows: Sequence[ReportRow], latest: Sequence[ReportRow]
    ) -> ReportWriter:  # pragma: no cover
        """The backend's write of a batch's ``rows`` and ``latest`` rows. Prepared here,
        before the write lock is taken; called inside the batch's transaction."""
        raise NotImplementedError

    def add_reports(self, reports: Sequence[dict[str, Any]], actor: str) -> int:
        require_actor(actor)
        rows = to_rows(reports)
        if not rows:
            return 0
        write = self._report_writer(rows, latest_rows(rows))
        payload = dumps({"fields": REPORT_FIELDS, "rows": rows})
        with self.transaction():
            now = self._now()
            seq = self._append_event(now, "report", "add", None, actor, payload)
            write(seq, now)
        return len(rows)

    def latest_reports(self) -> Iterator[dict[str, Any]]:
        sql = f"SELECT {REPORT_COLUMNS}, received_at FROM latest_reports ORDER BY asset_id, source"
        keys = (*REPORT_FIELDS, "received_at")
        for row in self._snapshot(sql):
            yield dict(zip(keys, row, strict=True))

    def count_reports(self) -> int:
        return self._scalar("SELECT COUNT(*) FROM reports")
