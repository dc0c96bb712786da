"""The friendly and protected picture as CoT events (pure).

Input is the GeoJSON features of :class:`~deconfliction.service.map.MapView`,
which has already applied the releasability rule for the reader: this module
only translates, it never decides who sees what. One feature gives one or more
events, each with a stable uid (``deconfliction.<layer>.<id>``) so that a newer
event replaces the older marker in a TAK client:

- **asset** → a marker of its 2525/APP-6 type (:func:`friendly_type_for`: only
  friendly, or neutral for humanitarian parties), ``start`` = its report's time,
  ``stale`` = that time plus the staleness horizon (past it the asset makes no
  ``HOLD`` by its reach, so it leaves the map); ``ce`` = CEP / 1.1774.
- **movement** → a route (``b-m-r``) with one ``link`` per vertex; ``start`` and
  ``stale`` are its window.
- **area** → a closed drawing (``u-d-f``) per polygon; its window.
- **site** → a marker (``a-f-G-I`` / ``a-n-G-I``) with its radius as an ellipse,
  stale a horizon from now (the feed re-sends it before then).

The unit's own AOR is not part of the feed (TAK users draw their own sectors).
A check's position is never a feature of the map, so it can never be here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any
from xml.sax.saxutils import quoteattr

from deconfliction.cot.affiliation import assert_not_hostile, friendly_type_for
from deconfliction.cot.event import UNKNOWN, CotEvent, Detail, Link, Point, Remarks, document_time
from deconfliction.cot.xml import format_number
from deconfliction.domain.geo import CEP_PER_CE

UID_PREFIX = "deconfliction."
ROUTE_TYPE = "b-m-r"
WAYPOINT_TYPE = "b-m-p-w"
SHAPE_TYPE = "u-d-f"
DELETE_TYPE = "t-x-d-d"
HOW = "h-e"
KMH_PER_MS = 3.6
#: ARGB colours for drawings: operating areas blue, protected areas white.
COLOURS = {"operating": -16776961, "protected": -1}
MAX_VERTICES = 500


def feature_uid(feature: Mapping[str, Any]) -> str:
    props = feature.get("properties") or {}
    return f"{UID_PREFIX}{props.get('layer')}.{props.get('id')}"


def _lat_lon(position: Any) -> tuple[float, float] | None:
    if not isinstance(position, list | tuple) or len(position) < 2:
        return None
    lon, lat = float(position[0]), float(position[1])
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None
    return lat, lon


def _lines(geometry: Mapping[str, Any]) -> list[list[Any]]:
    kind = geometry.get("type")
    coords = geometry.get("coordinates") or []
    if kind == "LineString":
        return [list(coords)]
    if kind == "MultiLineString":
        return [list(part) for part in coords]
    return []


def _rings(geometry: Mapping[str, Any]) -> list[list[Any]]:
    kind = geometry.get("type")
    coords = geometry.get("coordinates") or []
    if kind == "Polygon" and coords:
        return [list(coords[0])]
    if kind == "MultiPolygon":
        return [list(polygon[0]) for polygon in coords if polygon]
    return []


def _thin(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """At most :data:`MAX_VERTICES` points (first and last kept), to stay within an event."""
    if len(points) <= MAX_VERTICES:
        return points
    step = len(points) / (MAX_VERTICES - 1)
    return [points[int(i * step)] for i in range(MAX_VERTICES - 1)] + [points[-1]]


def _link_xml(uid: str, link_type: str, lat: float, lon: float) -> str:
    point = f"{format_number(lat)},{format_number(lon)}"
    return (
        f'<link uid={quoteattr(uid)} type={quoteattr(link_type)} relation="c" '
        f"point={quoteattr(point)}/>"
    )


def _contact(callsign: str) -> str:
    return f"<contact callsign={quoteattr(callsign)}/>"


class Picture:
    """Turns map features into events for a reader whose parties' kinds are known."""

    def __init__(self, party_kinds: Mapping[str, str], horizon: timedelta) -> None:
        self.party_kinds = party_kinds
        self.horizon = horizon

    def events(self, feature: Mapping[str, Any], now: datetime) -> list[CotEvent]:
        """The events for one feature (none for an AOR, or one whose time is over)."""
        layer = (feature.get("properties") or {}).get("layer")
        make = {
            "asset": self._asset,
            "movement": self._movement,
            "area": self._area,
            "site": self._site,
        }.get(str(layer))
        if make is None:
            return []
        out = list(make(feature, now))
        for event in out:
            assert_not_hostile(event.type)
        return out

    def _kind(self, props: Mapping[str, Any]) -> str | None:
        party = props.get("party_id")
        return self.party_kinds.get(str(party)) if party is not None else None

    def _asset(self, feature: Mapping[str, Any], now: datetime) -> Iterator[CotEvent]:
        props = feature["properties"]
        where = _lat_lon((feature.get("geometry") or {}).get("coordinates"))
        reported = document_time(props.get("time"))
        if where is None or reported is None:
            return
        stale = reported + self.horizon
        if stale <= now:
            return  # past the horizon: it stands for nothing any more
        start = min(reported, now)
        speed = props.get("speed_kmh")
        course = props.get("course_deg")
        kind = self._kind(props)
        cep = float(props.get("cep_m") or 0.0)
        callsign = str(props.get("callsign") or props.get("id"))
        what = props.get("type_name") or props.get("type_id")
        yield CotEvent(
            uid=feature_uid(feature),
            type=friendly_type_for(props.get("sidc") or kind, kind),
            how="m-g" if props.get("source") == "authenticated" else "h-e",
            time=now,
            start=start,
            stale=stale,
            point=Point(where[0], where[1], UNKNOWN, cep / CEP_PER_CE, UNKNOWN),
            detail=Detail(
                callsign=callsign,
                group_name=None,
                speed=float(speed) / KMH_PER_MS if isinstance(speed, int | float) else None,
                course=float(course) if isinstance(course, int | float) else None,
                remarks=Remarks(
                    text=f"{callsign}: {what} of {props.get('party_id')}, reported "
                    f"{props.get('time')} ({props.get('source')}). Registered friendly or "
                    "protected: a warning, never a target."
                ),
            ),
        )

    def _movement(self, feature: Mapping[str, Any], now: datetime) -> Iterator[CotEvent]:
        props = feature["properties"]
        start, end = document_time(props.get("start")), document_time(props.get("end"))
        if start is None or end is None or end <= now:
            return
        points = [
            p for line in _lines(feature.get("geometry") or {}) for p in map(_lat_lon, line) if p
        ]
        if len(points) < 2:
            return
        points = _thin(points)
        uid = feature_uid(feature)
        name = props.get("callsign") or f"movement {props.get('id')}"
        links = "".join(
            _link_xml(f"{uid}.{i}", WAYPOINT_TYPE, lat, lon) for i, (lat, lon) in enumerate(points)
        )
        extra = (
            links
            + _contact(f"{name} route")
            + '<link_attr method="Driving" routetype="Primary" order="Ascending Check Points"/>'
        )
        yield CotEvent(
            uid=uid,
            type=ROUTE_TYPE,
            how=HOW,
            time=now,
            start=start,
            stale=end,
            point=Point(points[0][0], points[0][1], UNKNOWN, 0.0, UNKNOWN),
            detail=Detail(
                remarks=Remarks(
                    text=f"Planned movement of {name} ({props.get('party_id')}), corridor "
                    f"{props.get('corridor_m')} m either side, {props.get('start')} to "
                    f"{props.get('end')}."
                ),
                extra_xml=extra,
            ),
        )

    def _area(self, feature: Mapping[str, Any], now: datetime) -> Iterator[CotEvent]:
        props = feature["properties"]
        start, end = document_time(props.get("start")), document_time(props.get("end"))
        if start is None or end is None or end <= now:
            return
        rings = _rings(feature.get("geometry") or {})
        uid = feature_uid(feature)
        kind = str(props.get("kind") or "operating")
        colour = COLOURS.get(kind, -1)
        for index, ring in enumerate(rings):
            points = _thin([p for p in map(_lat_lon, ring) if p])
            if len(points) < 3:
                continue
            lat = sum(p[0] for p in points) / len(points)
            lon = sum(p[1] for p in points) / len(points)
            part_uid = uid if len(rings) == 1 else f"{uid}.{index}"
            links = "".join(
                _link_xml(f"{part_uid}.{i}", "b-m-p-c", la, lo) for i, (la, lo) in enumerate(points)
            )
            extra = (
                links
                + f'<strokeColor value="{colour}"/><strokeWeight value="3.0"/>'
                + '<fillColor value="385875967"/><labels_on value="true"/>'
                + _contact(f"{kind} area {props.get('id')}")
            )
            yield CotEvent(
                uid=part_uid,
                type=SHAPE_TYPE,
                how=HOW,
                time=now,
                start=start,
                stale=end,
                point=Point(lat, lon, UNKNOWN, 0.0, UNKNOWN),
                detail=Detail(
                    remarks=Remarks(
                        text=f"{kind.capitalize()} area {props.get('id')} of "
                        f"{props.get('party_id')}, {props.get('start')} to {props.get('end')}."
                    ),
                    extra_xml=extra,
                ),
            )

    def _site(self, feature: Mapping[str, Any], now: datetime) -> Iterator[CotEvent]:
        props = feature["properties"]
        where = _lat_lon((feature.get("geometry") or {}).get("coordinates"))
        if where is None:
            return
        kind = self._kind(props)
        radius = float(props.get("radius_m") or 0.0)
        name = str(props.get("name") or props.get("id"))
        extra = (
            f'<shape><ellipse major="{format_number(radius)}" minor="{format_number(radius)}" '
            'angle="0"/></shape>'
        )
        yield CotEvent(
            uid=feature_uid(feature),
            type=friendly_type_for(kind, kind) + "-I",
            how=HOW,
            time=now,
            start=now,
            stale=now + self.horizon,
            point=Point(where[0], where[1], UNKNOWN, 0.0, UNKNOWN),
            detail=Detail(
                callsign=name,
                remarks=Remarks(
                    text=f"Protected site {name} ({props.get('kind')}) of {props.get('party_id')}, "
                    f"radius {radius:g} m. Never a target."
                ),
                extra_xml=extra,
            ),
        )


def signature(event: CotEvent) -> tuple[Any, ...]:
    """What makes two renderings of a feature the same marker (``time`` aside, and a
    site's ``start``/``stale``, which move with the clock)."""
    times = None if event.uid.startswith(f"{UID_PREFIX}site.") else (event.start, event.stale)
    return (event.type, event.how, event.point, event.detail, times)


def delete_event(uid: str, now: datetime) -> CotEvent:
    """``t-x-d-d``: remove a marker the reader may no longer see (or that is gone)."""
    return CotEvent(
        uid=f"{UID_PREFIX}delete.{uid}"[:128],
        type=DELETE_TYPE,
        how="h-g-i-g-o",
        time=now,
        start=now,
        stale=now + timedelta(minutes=1),
        point=Point(0.0, 0.0, UNKNOWN, UNKNOWN, UNKNOWN),
        detail=Detail(links=(Link(uid, "none", "none"),), extra_xml="<__forcedelete/>"),
    )
