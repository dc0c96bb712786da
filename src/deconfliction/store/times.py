"""Times at rest: one fixed-width UTC text form, so text order is time order.

Every time a store writes is ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (27 characters,
microseconds, UTC). Comparing two such strings compares the instants, which
the ``latest_reports`` upsert and keyset queries rely on, in SQLite and in
PostgreSQL alike.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

#: The stored form itself; a string already in it needs no parsing (the hot path).
_STORED = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def format_time(value: datetime) -> str:
    """The stored form of an aware datetime."""
    if value.tzinfo is UTC:  # most times (a report batch's): no offset to look up or apply
        return value.isoformat(timespec="microseconds")[:-6] + "Z"
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"time must carry a zone, got {value.isoformat()}")
    return value.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def canonical_time(value: str | datetime) -> str:
    """The stored form of an RFC 3339 string (with a zone) or an aware datetime."""
    if isinstance(value, str):
        if _STORED.fullmatch(value):
            datetime.fromisoformat(value)  # still a real date: 2026-02-30 is refused
            return value
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"not an RFC 3339 time: {value!r}") from exc
        return format_time(parsed)
    if isinstance(value, datetime):
        return format_time(value)
    raise ValueError(f"not a time: {value!r}")


def parse_time(value: str) -> datetime:
    """An aware UTC datetime from the stored form."""
    return datetime.fromisoformat(value).astimezone(UTC)
