"""Gather the review of an incident for one viewer, as a JSON-ready dict.

Everything the renderers draw comes from this dict, so releasability is applied
once, here: registered objects through ``Registry.visible`` (the rule of the lists),
notifications as a coordinator of the viewer's party reads them (its own party's),
checks for the asking party only (a check's position goes to the asker and, as a
``hold_on_your_asset`` notification, to the owners of what it matched). An admin
viewer (the CLI on the store, without ``--as-party``) sees the whole record.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from deconfliction.audit.verify import verify_store
from deconfliction.domain import geo
from deconfliction.domain.model import Area, Movement, Site, Unit
from deconfliction.service.access import Principal
from deconfliction.service.kinds import AREA, ASSET, BY_NAME, MOVEMENT, SITE, UNIT, Kind
from deconfliction.store.base import StoredObject
from deconfliction.store.times import format_time, parse_time
from deconfliction.usecases import UseCases

#: The window reaches this far before the incident unless told otherwise (the check's
#: staleness horizon: older reports could not have made a HOLD there).
DEFAULT_BEFORE = timedelta(hours=6)
DEFAULT_AFTER = timedelta(hours=1)
#: The review's bounds (``docs/security.md``, "Files and the review, bounded"): an
#: after-action review is about one incident, a place a unit could see and the days
#: leading to it; wider asks read (and would answer) a theatre's whole record.
MAX_RADIUS_M = 50_000.0
#: ``before + after`` (each alone too) at most this long.
MAX_SPAN = timedelta(days=7)
#: Same-second events in the order they happen (a registration causes notifications).
EVENT_ORDER = {
    "registered": 0,
    "movement": 1,
    "report": 2,
    "notified": 3,
    "answered": 4,
    "check": 5,
}
#: How the timeline words each cause of a notification.
_TOLD = {
    "announced_arrival": "is told {about} is coming (announced arrival)",
    "unannounced_entry": "is told {about} entered its area unannounced",
    "recognition_briefing": "is sent the recognition card of the {about} (briefing)",
    "hold_on_your_asset": "is told a check returned HOLD on its {about}",
    "escalation": "receives an escalation (level {level}) about {about}",
}


def short(stored: str | None) -> str:
    """``2026-03-14T10:05:00.123456Z`` → ``10:05:00Z`` (the date is in the heading)."""
    return "-" if not stored else stored[11:19] + "Z"


#: Notification causes that tell a unit an asset is coming (or is there).
ARRIVALS = ("announced_arrival", "unannounced_entry")


@dataclass(frozen=True)
class Incident:
    at: datetime
    lat: float
    lon: float
    radius_m: float
    before: timedelta = DEFAULT_BEFORE
    after: timedelta = DEFAULT_AFTER

    @property
    def start(self) -> str:
        return format_time(self.at - self.before)

    @property
    def end(self) -> str:
        return format_time(self.at + self.after)

    def validate(self) -> None:
        """``ValueError`` naming the field of an incident that cannot be reviewed."""
        geo.check_lat_lon(self.lat, self.lon, "lat/lon")
        if not (0 < self.radius_m <= MAX_RADIUS_M) or math.isnan(self.radius_m):
            raise ReviewInputError(
                "radius_m",
                f"must be within (0, {MAX_RADIUS_M:g}] m (the review's radius is at most "
                f"{MAX_RADIUS_M / 1000:g} km), got {self.radius_m:g}",
            )
        if self.at.tzinfo is None:
            raise ReviewInputError("at", "needs a time zone")
        days = MAX_SPAN.days
        for name, span in (("before", self.before), ("after", self.after)):
            if not timedelta(0) <= span <= MAX_SPAN:
                raise ReviewInputError(
                    name, f"must be between 0 and {days} days (the review's span), got {span}"
                )
        if self.before + self.after > MAX_SPAN:
            raise ReviewInputError(
                "before+after",
                f"the window before and after the incident must be at most {days} days in "
                f"all (the review's span), got {self.before + self.after}",
            )


class ReviewInputError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ReviewBuilder:
    """One review: construct, then :meth:`build`."""

    def __init__(self, usecases: UseCases, who: Principal, incident: Incident) -> None:
        incident.validate()
        self.registry = usecases.registry
        #: Fills in the owners' answers on a check, as ``GET /v1/checks/{id}`` shows them
        #: to the asker.
        self.planner = usecases.checks.planner
        self.store = self.registry.store
        self.who = who
        self.inc = incident
        self.timeline: list[dict[str, Any]] = []
        self.party_names: dict[str, str] = {}
        self.unit_names: dict[str, str] = {}
        self.type_docs: dict[str, dict[str, Any]] = {}

    # -- helpers -------------------------------------------------------------------------
    def _visible(self, kind: Kind) -> Iterable[StoredObject]:
        for stored in self.store.iter_all(kind.name):
            if self.registry.visible(self.who, kind, stored):
                yield stored

    def _distance_m(self, lat: float, lon: float) -> float:
        return geo.haversine_scalar_m(self.inc.lat, self.inc.lon, lat, lon)

    def _km(self, row: dict[str, Any]) -> str:
        return f"{self._distance_m(row['lat'], row['lon']) / 1000:.1f} km"

    def _geometry_distance_m(self, geom: Any) -> float:
        lats, lons = geo.chords(geom)
        return geo.distance_to_geometry_m(self.inc.lat, self.inc.lon, geom, lats, lons)

    def _overlaps(self, start: str | None, end: str | None) -> bool:
        return (start is None or start <= self.inc.end) and (end is None or end >= self.inc.start)

    def _event(self, at: str, what: str, text: str, party: str | None, **extra: Any) -> None:
        self.timeline.append({"at": at, "what": what, "text": text, "party_id": party, **extra})

    def _party(self, party_id: str | None) -> str:
        return self.party_names.get(party_id or "", party_id or "unknown party")

    def _unit(self, unit_id: str | None) -> str:
        if unit_id is None:
            return "the out-of-band contact"
        return self.unit_names.get(unit_id, unit_id)

    def _type_name(self, type_id: str | None) -> str:
        doc = self.type_docs.get(type_id or "")
        return str(doc["name"]) if doc else str(type_id)

    # -- the review ------------------------------------------------------------------------
    def build(self) -> dict[str, Any]:
        for stored in self._visible(UNIT):
            self.unit_names[stored.id] = str(stored.data.get("name") or stored.id)
        for stored in self.store.iter_all("party"):  # public
            self.party_names[stored.id] = str(stored.data.get("name") or stored.id)
        for stored in self.store.iter_all("equipment_type"):  # public
            self.type_docs[stored.id] = stored.data
        assets, tracks = self._assets()
        movements = self._movements(assets)
        areas = self._areas()
        sites = self._sites()
        checks = self._checks(assets)
        units = self._units({c["unit_id"] for c in checks})
        notifications = self._notifications(assets, checks)
        findings = self._findings(checks, notifications, assets)
        with_data = {
            o["party_id"]
            for o in [*assets.values(), *movements, *areas, *sites, *units]
            if o.get("party_id")
        }
        parties = [
            {"party_id": p, "name": name, "data_here": p in with_data}
            for p, name in sorted(self.party_names.items())
        ]
        gaps = sorted(
            {
                (g.get("party_id"), g.get("reason"))
                for c in checks
                for g in c["result"].get("coverage_gaps") or []
            },
            key=lambda g: (str(g[0]), str(g[1])),
        )
        self.timeline.sort(key=lambda e: (e["at"], EVENT_ORDER.get(e["what"], 9)))
        return {
            "incident": {
                "at": format_time(self.inc.at),
                "lat": self.inc.lat,
                "lon": self.inc.lon,
                "radius_m": self.inc.radius_m,
                "window": {"start": self.inc.start, "end": self.inc.end},
            },
            "viewer": {
                "role": self.who.role,
                "party_id": self.who.party_id,
                "party_name": self._party(self.who.party_id) if self.who.party_id else None,
            },
            "record": self._record(),
            "findings": findings,
            "timeline": self.timeline,
            "units": units,
            "assets": list(assets.values()),
            "movements": movements,
            "areas": areas,
            "sites": sites,
            "notifications": notifications,
            "checks": checks,
            "parties": parties,
            "coverage_gaps": [{"party_id": p, "reason": r} for p, r in gaps],
            "map": {"tracks": tracks},
        }

    def _record(self) -> dict[str, Any]:
        """The audit chain's state when the review was made: what it rests on."""
        report = verify_store(self.store)
        return {
            "intact": report.ok,
            "entries": report.count,
            "head_seq": report.head_seq,
            "head_hash": report.head_hash,
            "purged_payloads": report.purged,
            "problem": None if report.problem is None else str(report.problem),
        }

    def _units(self, askers: set[str]) -> list[dict[str, Any]]:
        """Visible units whose AOR touches the circle, and those that checked there."""
        out = []
        for stored in self._visible(UNIT):
            unit = Unit.model_validate(stored.data)
            active = self._overlaps(stored.data.get("aor_start"), stored.data.get("aor_end"))
            if not active and unit.id not in askers:
                continue
            d = self._geometry_distance_m(unit.aor_shape)
            if d <= self.inc.radius_m or unit.id in askers:
                out.append(
                    {
                        "id": unit.id,
                        "party_id": unit.party_id,
                        "name": unit.name,
                        "distance_m": round(d),
                        "aor": stored.data["aor"],
                    }
                )
        return out

    def _assets(self) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]]]:
        """Visible assets with a report in the window that puts them in the circle, or
        from which they could have reached it by the incident at their maximum speed."""
        visible = {s.id: s for s in self._visible(ASSET)}
        by_asset: dict[str, list[dict[str, Any]]] = {}
        for row in self.store.reports_between(self.inc.start, self.inc.end):
            if row["asset_id"] in visible:
                by_asset.setdefault(row["asset_id"], []).append(row)
        assets: dict[str, dict[str, Any]] = {}
        tracks: dict[str, list[dict[str, Any]]] = {}
        at = format_time(self.inc.at)
        for asset_id, rows in by_asset.items():
            data = visible[asset_id].data
            type_doc = self.type_docs.get(str(data.get("type_id")), {})
            speed = data.get("max_speed_kmh") or type_doc.get("max_speed_kmh") or 0.0
            closest = None
            for row in rows:
                d = self._distance_m(row["lat"], row["lon"])
                age_s = abs((parse_time(row["time"]) - self.inc.at).total_seconds())
                # Within the circle, or able to reach it by the incident (its reach, as the
                # check computes it, touching the circle).
                reach = geo.r99(row["cep_m"]) + row["extra_radius_m"] + float(speed) / 3.6 * age_s
                touches = d <= self.inc.radius_m + reach
                if (
                    touches
                    and (row["time"] <= at or d <= self.inc.radius_m)
                    and (closest is None or d < closest[0])
                ):
                    closest = (d, row)
            if closest is None:
                continue
            d, row = closest
            assets[asset_id] = {
                "id": asset_id,
                "party_id": data.get("party_id"),
                "callsign": data.get("callsign"),
                "type_id": data.get("type_id"),
                "type_name": self._type_name(data.get("type_id")),
                "closest_m": round(d),
                "closest_at": row["time"],
                "reports": len(rows),
            }
            tracks[asset_id] = [{"time": r["time"], "lat": r["lat"], "lon": r["lon"]} for r in rows]
            first, last = rows[0], rows[-1]
            callsign, party = data.get("callsign"), data.get("party_id")
            self._event(
                first["time"],
                "report",
                f"{callsign} reports {self._km(first)} from the point "
                f"(first report in the window; {len(rows)} in all)",
                party,
            )
            if last is not first:
                self._event(
                    last["time"],
                    "report",
                    f"{callsign} reports {self._km(last)} from the point (last in the window)",
                    party,
                )
        return assets, tracks

    def _registered(self, stored: StoredObject, what: str) -> None:
        created = format_time(stored.created_at)
        if self.inc.start <= created <= self.inc.end:
            self._event(
                created,
                "registered",
                f"{self._party(stored.party_id)} registers {what}",
                stored.party_id,
            )

    def _movements(self, assets: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for stored in self._visible(MOVEMENT):
            data = stored.data
            if not self._overlaps(data.get("start"), data.get("end")):
                continue
            movement = Movement.model_validate(data)
            d = self._geometry_distance_m(movement.route_shape)
            if d > self.inc.radius_m + movement.corridor_m:
                continue
            asset = self.store.get("asset", movement.asset_id)
            callsign = asset.data.get("callsign") if asset is not None else None
            type_id = asset.data.get("type_id") if asset is not None else None
            what = (
                f"the movement of {callsign or movement.asset_id} ({self._type_name(type_id)}), "
                f"{short(format_time(movement.start))} to {short(format_time(movement.end))}"
            )
            self._registered(stored, what)
            start = format_time(movement.start)
            if self.inc.start <= start <= self.inc.end:
                self._event(
                    start,
                    "movement",
                    f"{callsign or movement.asset_id}'s movement window opens",
                    stored.party_id,
                )
            out.append(
                {
                    "id": movement.id,
                    "party_id": stored.party_id,
                    "asset_id": movement.asset_id,
                    "callsign": callsign,
                    "type_name": self._type_name(type_id),
                    "start": start,
                    "end": format_time(movement.end),
                    "corridor_m": movement.corridor_m,
                    "distance_m": round(d),
                    "route": data["route"],
                }
            )
        return out

    def _areas(self) -> list[dict[str, Any]]:
        out = []
        for stored in self._visible(AREA):
            data = stored.data
            if not self._overlaps(data.get("start"), data.get("end")):
                continue
            area = Area.model_validate(data)
            d = self._geometry_distance_m(area.shape)
            if d > self.inc.radius_m:
                continue
            self._registered(stored, f"the {area.kind} area {area.id}")
            out.append(
                {
                    "id": area.id,
                    "party_id": area.party_id,
                    "kind": area.kind,
                    "distance_m": round(d),
                    "geometry": data["geometry"],
                }
            )
        return out

    def _sites(self) -> list[dict[str, Any]]:
        out = []
        for stored in self._visible(SITE):
            site = Site.model_validate(stored.data)
            d = self._distance_m(site.position.lat, site.position.lon)
            if d > self.inc.radius_m + site.radius_m:
                continue
            self._registered(stored, f"the {site.kind} {site.name or site.id}")
            out.append(
                {
                    "id": site.id,
                    "party_id": site.party_id,
                    "kind": site.kind,
                    "name": site.name,
                    "lat": site.position.lat,
                    "lon": site.position.lon,
                    "radius_m": site.radius_m,
                    "distance_m": round(d),
                }
            )
        return out

    def _checks(self, assets: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for record in self.store.checks_between(self.inc.start, self.inc.end):
            if not (self.who.is_admin or record["party_id"] == self.who.party_id):
                continue
            request, result = record["request"], record["result"]
            try:
                point = geo.parse_point(request.get("position"))
            except ValueError:
                continue
            cep = float(request.get("cep_m") or 0.0)
            d = self._distance_m(point.lat, point.lon)
            if d > self.inc.radius_m + geo.r99(cep) + point.extra_radius_m:
                continue
            if self.planner is not None and result.get("verdict") == "HOLD":
                # one query per check shown (not per check of the window)
                result = self.planner.owner_responses(record["id"], result)
            matches = result.get("matches") or []
            named = [self._match_name(m) for m in matches]
            verdict = result.get("verdict")
            unit = self._unit(record["unit_id"])
            text = f"{unit} checks a point {d / 1000:.1f} km from the incident"
            note = request.get("note")
            if note:
                text += f" ({note!r})"
            text += f": {verdict}"
            if named:
                text += " naming " + ", ".join(named)
            self._event(
                record["created_at"], "check", text, record["party_id"], check_id=record["id"]
            )
            for m, n in zip(matches, named, strict=True):
                owner = m.get("owner_response")
                if owner and m.get("kind") == "asset":
                    self._event(
                        str(owner.get("at")),
                        "answered",
                        f"{self._party(m.get('party_id'))} answers {owner.get('response')} on "
                        f"{unit}'s check about {n} ({owner.get('by')})",
                        m.get("party_id"),
                        check_id=record["id"],
                    )
            out.append(
                {
                    "id": record["id"],
                    "unit_id": record["unit_id"],
                    "party_id": record["party_id"],
                    "at": record["created_at"],
                    "lat": point.lat,
                    "lon": point.lon,
                    "cep_m": cep,
                    "observed": request.get("observed"),
                    "note": note,
                    "verdict": verdict,
                    "matches": [
                        {
                            "kind": m.get("kind"),
                            "id": m.get("id"),
                            "party_id": m.get("party_id"),
                            "name": n,
                            "reasons": m.get("reasons") or [],
                            "feature_conflicts": m.get("feature_conflicts") or [],
                            "details_withheld": m.get("details_withheld"),
                            "owner_response": m.get("owner_response"),
                        }
                        for m, n in zip(matches, named, strict=True)
                    ],
                    "result": result,
                }
            )
        return out

    def _about(self, row: dict[str, Any]) -> str:
        """What a notification is about, as far as the viewer may know it."""
        if row["asset_id"] and row["cause"] != "recognition_briefing":
            stored = self.store.get("asset", row["asset_id"])
            if stored is not None and self.registry.visible(self.who, ASSET, stored):
                return str(stored.data.get("callsign") or row["asset_id"])
        return self._type_name(row["type_id"]) if row["type_id"] else "an asset"

    def _match_name(self, match: dict[str, Any]) -> str:
        """What a match names, as the asker was told it (withheld stays withheld)."""
        kind, obj_id = match.get("kind"), match.get("id")
        if match.get("details_withheld") or obj_id is None:
            return f"a {kind} of {self._party(match.get('party_id'))} (details withheld)"
        stored = self.store.get(str(kind), str(obj_id)) if kind in BY_NAME else None
        if stored is None:
            return str(obj_id)
        if kind == "asset":
            return str(stored.data.get("callsign") or obj_id)
        if kind == "movement":
            asset = self.store.get("asset", str(stored.data.get("asset_id")))
            callsign = asset.data.get("callsign") if asset is not None else None
            return f"{callsign or stored.data.get('asset_id')}'s movement {obj_id}"
        if kind == "site":
            return str(stored.data.get("name") or obj_id)
        return f"{stored.data.get('kind', '')} area {obj_id}".strip()

    def _notifications(
        self, assets: dict[str, dict[str, Any]], checks: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The viewer's party's notifications in the window about the assets and types in
        the review (and the escalations of those)."""
        asset_ids = set(assets)
        for c in checks:
            for m in c["matches"]:
                if m["kind"] == "asset" and m["id"]:
                    asset_ids.add(m["id"])
        type_ids = set()
        for asset_id in asset_ids:
            stored = self.store.get("asset", asset_id)
            if stored is not None:
                type_ids.add(str(stored.data.get("type_id")))
        rows: dict[str, dict[str, Any]] = {}
        for row in self.store.iter_notifications():
            if not (self.inc.start <= row["created_at"] <= self.inc.end):
                continue
            if not (self.who.is_admin or row["party_id"] == self.who.party_id):
                continue  # as a coordinator of the viewer's party reads them
            about = row["asset_id"] in asset_ids or (
                row["cause"] == "recognition_briefing" and row["type_id"] in type_ids
            )
            if about or row["parent_id"] in rows:
                rows[row["id"]] = row
        out = []
        for row in rows.values():
            payload = row["payload"] or {}
            asset = payload.get("asset") or {}
            about = asset.get("callsign") or self._about(row)
            item = {
                "id": row["id"],
                "unit_id": row["unit_id"],
                "unit_name": self._unit(row["unit_id"]),
                "party_id": row["party_id"],
                "cause": row["cause"],
                "about": about,
                "asset_id": row["asset_id"] if asset.get("id") else None,
                "type_id": row["type_id"],
                "created_at": row["created_at"],
                "deadline": row["deadline"],
                "state": row["state"],
                "response": row["response"],
                "responded_by": row["responded_by"],
                "responded_at": row["responded_at"],
                "escalation_level": row["escalation_level"],
                "parent_id": row["parent_id"],
            }
            out.append(item)
            cause = row["cause"].replace("_", " ")
            told = _TOLD.get(row["cause"], "is notified about {about}").format(
                about=about, level=row["escalation_level"]
            )
            self._event(
                row["created_at"],
                "notified",
                f"{item['unit_name']} {told}"
                + (f"; answer due by {short(row['deadline'])}" if row["deadline"] else ""),
                row["party_id"],
                notification_id=row["id"],
            )
            if row["response"]:
                self._event(
                    row["responded_at"],
                    "answered",
                    f"{item['unit_name']} answers {row['response']} to the {cause} about {about} "
                    f"({row['responded_by']})",
                    row["party_id"],
                    notification_id=row["id"],
                )
        return out

    def _findings(
        self,
        checks: list[dict[str, Any]],
        notifications: list[dict[str, Any]],
        assets: dict[str, dict[str, Any]],
    ) -> list[dict[str, Any]]:
        """For each HOLD on a visible asset: what the asking unit would have had without
        the service, and what it had with it — from the record alone."""
        out: list[dict[str, Any]] = []
        for check in checks:
            if check["verdict"] != "HOLD":
                continue
            # an asset's own match first: its reasons say what the asset is and where
            for match in sorted(check["matches"], key=lambda m: m["kind"] != "asset"):
                asset_id = match["id"] if match["kind"] == "asset" else None
                if match["kind"] == "movement" and match["id"]:
                    stored_m = self.store.get("movement", match["id"])
                    asset_id = stored_m.data.get("asset_id") if stored_m else None
                if asset_id is None:
                    continue
                stored = self.store.get("asset", asset_id)
                if stored is None or not self.registry.visible(self.who, ASSET, stored):
                    continue
                if any(f["asset_id"] == asset_id and f["unit_id"] == check["unit_id"] for f in out):
                    continue
                out.append(self._finding(check, match, stored, notifications))
        return out

    def _finding(
        self,
        check: dict[str, Any],
        match: dict[str, Any],
        asset: StoredObject,
        notifications: list[dict[str, Any]],
    ) -> dict[str, Any]:
        unit_id = check["unit_id"]
        unit = self._unit(unit_id)
        callsign = str(asset.data.get("callsign"))
        type_id = str(asset.data.get("type_id"))
        type_doc = self.type_docs.get(type_id, {})
        mine = [
            n for n in notifications if n["unit_id"] == unit_id and n["created_at"] <= check["at"]
        ]
        arrivals = [n for n in mine if n["cause"] in ARRIVALS and n["asset_id"] == asset.id]
        briefings = [
            n for n in mine if n["cause"] == "recognition_briefing" and n["type_id"] == type_id
        ]
        escalations = [n for n in notifications if n["cause"] == "escalation"]
        first_told = min((n["created_at"] for n in arrivals + briefings), default=None)
        briefed_before = False
        if first_told is not None:
            for row in self.store.find_notifications(
                unit_id=unit_id, cause="recognition_briefing", type_id=type_id
            ):
                if row["response"] == "briefed" and (row["responded_at"] or "~") < first_told:
                    briefed_before = True
        without: list[str] = []
        if arrivals:
            first = arrivals[0]
            without.append(
                f"Nobody else told {unit}: the record's only notice to {unit} of {callsign} is "
                f"the service's {first['cause'].replace('_', ' ')} at {short(first['created_at'])}."
            )
        else:
            without.append(f"{unit} was never told of {callsign} (no announcement on record).")
        cue_lines = []
        for confusable in type_doc.get("confusable_with") or []:
            other = self._type_name(confusable.get("type_id"))
            cue = str(confusable.get("cue") or "").rstrip(".")
            cue_lines.append(f"it looks like a {other} ({cue})")
        variant = type_doc.get("variant_of")
        familiarity = (
            f"{unit} had been briefed on the {self._type_name(type_id)} before."
            if briefed_before
            else f"{unit} had never been briefed on the {self._type_name(type_id)}"
            + (f", a variant of the {self._type_name(variant)}" if variant else "")
            + (": " + "; ".join(cue_lines) if cue_lines else "")
            + "."
        )
        without.append(familiarity)
        without.append(
            f"With nobody told and no card, {unit} had nothing to ask before acting on what it saw"
            + (f" ({check['note']!r})" if check.get("note") else "")
            + "."
        )
        with_service: list[str] = []
        for n in arrivals + briefings:
            line = f"{short(n['created_at'])}: {n['cause'].replace('_', ' ')} to {unit}"
            if n["deadline"]:
                line += f", due by {short(n['deadline'])}"
            if n["response"]:
                line += (
                    f"; answered {n['response']} by {n['responded_by']} "
                    f"at {short(n['responded_at'])}"
                )
            else:
                ups = [e for e in escalations if e["parent_id"] == n["id"]]
                line += "; unanswered" + (
                    "; escalated at "
                    + ", ".join(f"{e['created_at']} to {e['unit_name']}" for e in ups)
                    if ups
                    else ""
                )
            with_service.append(line + ".")
        reason = match["reasons"][0] if match["reasons"] else callsign
        verdict = check["verdict"]
        with_service.append(
            f"{short(check['at'])}: {unit}'s check answered {verdict} naming {callsign} ({reason})"
        )
        owner = match.get("owner_response")
        if owner:
            owner_party = self._party(asset.party_id)
            with_service.append(
                f"{short(owner.get('at'))}: {owner_party} answered {owner.get('response')} "
                f"({owner.get('by')})."
            )
        return {
            "check_id": check["id"],
            "unit_id": unit_id,
            "asset_id": asset.id,
            "callsign": callsign,
            "type_id": type_id,
            "told_before_check": bool(arrivals),
            "briefed_before_told": briefed_before,
            "without_service": without,
            "with_service": with_service,
        }
