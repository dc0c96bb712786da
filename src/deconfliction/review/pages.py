"""The review in pages: at most :data:`MAX_PAGE_ITEMS` items and about
:data:`MAX_PAGE_BYTES` of them a page, in a stable order, resumed by an opaque cursor.

A review's *items* are the entries of its lists (findings, timeline, checks,
notifications, assets, movements, areas, sites, units) and the points of its report
tracks; the rest (the incident, the viewer, the record, the parties and coverage gaps) is
small and comes with every page. Each item has a key: its section, the fields the page is
ordered by (times, ids) and its place among exact ties in the record's own order. A page
holds the items after the cursor's key, so paging through a record that does not change
returns every item exactly once; items recorded meanwhile show only if they sort after the
cursor, and none is repeated (``docs/design/review.md``, "Bounds and pages").

The cursor carries the last key and a fingerprint of the incident (a cursor is refused
with another point, time, radius or window); it holds nothing the page did not show.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from deconfliction.review.incident import Incident
from deconfliction.review.timeline import EVENT_ORDER
from deconfliction.service.errors import InvalidInput
from deconfliction.store.times import format_time

#: Items on one page (and the default): a day of one busy area's record.
MAX_PAGE_ITEMS = 1000
#: A page stops adding items past this many bytes of their JSON (one item always fits:
#: the registry bounds each, e.g. 20,000 vertices a shape), so no answer is tens of MB.
MAX_PAGE_BYTES = 2_000_000

_Key = tuple[str, ...]


def _at(field: str) -> Callable[[dict[str, Any]], _Key]:
    return lambda item: (str(item.get(field) or ""),)


#: The sections in page order, each with the fields its items are ordered by.
SECTIONS: tuple[tuple[str, Callable[[dict[str, Any]], _Key]], ...] = (
    ("findings", _at("check_id")),  # check ids are time-ordered
    ("timeline", lambda e: (str(e["at"]), f"{EVENT_ORDER.get(e['what'], 9)}")),
    ("checks", lambda c: (str(c["at"]), str(c["id"]))),
    ("notifications", _at("created_at")),
    ("assets", _at("id")),
    ("movements", _at("id")),
    ("areas", _at("id")),
    ("sites", _at("id")),
    ("units", _at("id")),
    ("tracks", lambda p: (str(p["asset_id"]), str(p["time"]))),
)


def _keyed(body: dict[str, Any]) -> Iterator[tuple[_Key, str, dict[str, Any]]]:
    """Every item of ``body`` with its key, in key order."""
    for number, (section, order) in enumerate(SECTIONS):
        if section == "tracks":
            items = [
                {"asset_id": asset_id, **point}
                for asset_id, points in body["map"]["tracks"].items()
                for point in points
            ]
        else:
            items = body[section]
        ordered = sorted(items, key=order)  # stable: exact ties keep the record's order
        previous: _Key | None = None
        tie = 0
        for item in ordered:
            primary = order(item)
            tie = tie + 1 if primary == previous else 0
            previous = primary
            yield (f"{number:02d}", *primary, f"{tie:06d}"), section, item


def fingerprint(incident: Incident) -> str:
    """What a cursor belongs to: the incident's point, time, radius and window."""
    text = "|".join(
        (
            format_time(incident.at),
            repr(incident.lat),
            repr(incident.lon),
            repr(incident.radius_m),
            repr(incident.before.total_seconds()),
            repr(incident.after.total_seconds()),
        )
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode_cursor(incident: Incident, key: _Key) -> str:
    raw = orjson.dumps({"q": fingerprint(incident), "k": list(key)})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(incident: Incident, cursor: str) -> _Key:
    """The key a cursor resumes after; 422 naming ``cursor`` if it is not one of this
    incident's."""
    try:
        if len(cursor) > 4096:
            raise ValueError("too long")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        doc = orjson.loads(raw)
        key = doc["k"]
        if not (isinstance(key, list) and key and all(isinstance(k, str) for k in key)):
            raise ValueError("no key")
        owner = doc["q"]
    except (ValueError, KeyError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise InvalidInput(
            "cursor must be the page.next of an earlier page of this review", field="cursor"
        ) from None
    if owner != fingerprint(incident):
        raise InvalidInput(
            "cursor belongs to a review of another point, time, radius or window "
            "(at, lat, lon, radius_m, before, after must be those of its first page)",
            field="cursor",
        )
    return tuple(key)


def check_limit(limit: int | None) -> int:
    size = MAX_PAGE_ITEMS if limit is None else limit
    if not 1 <= size <= MAX_PAGE_ITEMS:
        raise InvalidInput(
            f"limit must be within [1, {MAX_PAGE_ITEMS}] items a page, got {size}", field="limit"
        )
    return size


def paginate(
    body: dict[str, Any],
    incident: Incident,
    *,
    limit: int | None = MAX_PAGE_ITEMS,
    after: _Key | None = None,
    max_bytes: int | None = MAX_PAGE_BYTES,
) -> dict[str, Any]:
    """One page of ``body`` (the whole review for one viewer): the items after ``after``,
    at most ``limit`` of them and about ``max_bytes`` of their JSON (``None``: no bound,
    the CLI's whole review), and ``page`` saying where it is and what comes next."""
    page: dict[str, Any] = {
        key: value for key, value in body.items() if key not in {s for s, _ in SECTIONS}
    }
    for section, _ in SECTIONS[:-1]:
        page[section] = []
    tracks: dict[str, list[dict[str, Any]]] = {}
    page["map"] = {**body["map"], "tracks": tracks}
    total = skipped = shown = size = 0
    last: _Key | None = None
    full = False
    more = False
    for key, section, item in _keyed(body):
        total += 1
        if after is not None and key <= after:
            skipped += 1
            continue
        if full:
            more = True
            continue
        weight = len(orjson.dumps(item))
        if shown and (
            (limit is not None and shown >= limit)
            or (max_bytes is not None and size + weight > max_bytes)
        ):
            full = more = True
            continue
        size += weight
        shown += 1
        last = key
        if section == "tracks":
            point = {k: v for k, v in item.items() if k != "asset_id"}
            tracks.setdefault(str(item["asset_id"]), []).append(point)
        else:
            page[section].append(item)
    page["page"] = {
        "first": skipped + 1 if shown else None,
        "items": shown,
        "total": total,
        "limit": limit,
        "next": encode_cursor(incident, last) if more and last is not None else None,
    }
    return page
