"""Gather the review of an incident for one viewer, as a JSON-ready dict.

Everything the renderers draw comes from this dict, so releasability is applied once,
for the whole review, by its :class:`~deconfliction.review.visibility.Viewer`. The
builder reads the record in the incident's circle and window
(:class:`~deconfliction.review.incident.Incident`): the lists (units, assets and their
tracks, movements, areas, sites, checks, notifications), the events each adds to the
timeline (``review/timeline.py``), the findings (``review/findings.py``) and the state
of the audit chain the review rests on.
"""

from __future__ import annotations

from typing import Any

from deconfliction.audit.verify import verify_store
from deconfliction.domain import geo
from deconfliction.domain.model import Area, Movement, Site, Unit
from deconfliction.review.findings import findings
from deconfliction.review.incident import Incident
from deconfliction.review.timeline import Timeline, short
from deconfliction.review.visibility import Viewer
from deconfliction.service.access import Principal
from deconfliction.service.kinds import AREA, ASSET, MOVEMENT, SITE, UNIT
from deconfliction.store.base import StoredObject
from deconfliction.store.times import format_time, parse_time
from deconfliction.usecases import UseCases

#: How the timeline words each cause of a notification.
_TOLD = {
    "announced_arrival": "is told {about} is coming (announced arrival)",
    "unannounced_entry": "is told {about} entered its area unannounced",
    "recognition_briefing": "is sent the recognition card of the {about} (briefing)",
    "hold_on_your_asset": "is told a check returned HOLD on its {about}",
    "escalation": "receives an escalation (level {level}) about {about}",
}


class ReviewBuilder:
    """One review: construct, then :meth:`build`."""

    def __init__(self, usecases: UseCases, who: Principal, incident: Incident) -> None:
        incident.validate()
        self.viewer = Viewer(usecases.registry, who)
        #: Fills in the owners' answers on a check, as ``GET /v1/checks/{id}`` shows them
        #: to the asker.
        self.planner = usecases.checks.planner
        self.store = usecases.registry.store
        self.who = who
        self.inc = incident
        self.timeline = Timeline()

    # -- the review ------------------------------------------------------------------------
    def build(self) -> dict[str, Any]:
        self.viewer.load_names()
        assets, tracks = self._assets()
        movements = self._movements(assets)
        areas = self._areas()
        sites = self._sites()
        checks = self._checks(assets)
        units = self._units({c["unit_id"] for c in checks})
        notifications = self._notifications(assets, checks)
        found = findings(self.viewer, checks, notifications)
        with_data = {
            o["party_id"]
            for o in [*assets.values(), *movements, *areas, *sites, *units]
            if o.get("party_id")
        }
        parties = [
            {"party_id": p, "name": name, "data_here": p in with_data}
            for p, name in sorted(self.viewer.party_names.items())
        ]
        gaps = sorted(
            {
                (g.get("party_id"), g.get("reason"))
                for c in checks
                for g in c["result"].get("coverage_gaps") or []
            },
            key=lambda g: (str(g[0]), str(g[1])),
        )
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
                "party_name": self.viewer.party(self.who.party_id) if self.who.party_id else None,
            },
            "record": self._record(),
            "findings": found,
            "timeline": self.timeline.ordered(),
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
        for stored in self.viewer.visible(UNIT):
            unit = Unit.model_validate(stored.data)
            active = self.inc.overlaps(stored.data.get("aor_start"), stored.data.get("aor_end"))
            if not active and unit.id not in askers:
                continue
            d = self.inc.geometry_distance_m(unit.aor_shape)
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
        visible = {s.id: s for s in self.viewer.visible(ASSET)}
        by_asset: dict[str, list[dict[str, Any]]] = {}
        for row in self.store.reports_between(self.inc.start, self.inc.end):
            if row["asset_id"] in visible:
                by_asset.setdefault(row["asset_id"], []).append(row)
        assets: dict[str, dict[str, Any]] = {}
        tracks: dict[str, list[dict[str, Any]]] = {}
        at = format_time(self.inc.at)
        for asset_id, rows in by_asset.items():
            data = visible[asset_id].data
            type_doc = self.viewer.type_doc(str(data.get("type_id")))
            speed = data.get("max_speed_kmh") or type_doc.get("max_speed_kmh") or 0.0
            closest = None
            for row in rows:
                d = self.inc.distance_m(row["lat"], row["lon"])
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
                "type_name": self.viewer.type_name(data.get("type_id")),
                "closest_m": round(d),
                "closest_at": row["time"],
                "reports": len(rows),
            }
            tracks[asset_id] = [{"time": r["time"], "lat": r["lat"], "lon": r["lon"]} for r in rows]
            first, last = rows[0], rows[-1]
            callsign, party = data.get("callsign"), data.get("party_id")
            self.timeline.add(
                first["time"],
                "report",
                f"{callsign} reports {self.inc.km(first)} from the point "
                f"(first report in the window; {len(rows)} in all)",
                party,
            )
            if last is not first:
                self.timeline.add(
                    last["time"],
                    "report",
                    f"{callsign} reports {self.inc.km(last)} from the point (last in the window)",
                    party,
                )
        return assets, tracks

    def _registered(self, stored: StoredObject, what: str) -> None:
        created = format_time(stored.created_at)
        if self.inc.start <= created <= self.inc.end:
            self.timeline.add(
                created,
                "registered",
                f"{self.viewer.party(stored.party_id)} registers {what}",
                stored.party_id,
            )

    def _movements(self, assets: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for stored in self.viewer.visible(MOVEMENT):
            data = stored.data
            if not self.inc.overlaps(data.get("start"), data.get("end")):
                continue
            movement = Movement.model_validate(data)
            d = self.inc.geometry_distance_m(movement.route_shape)
            if d > self.inc.radius_m + movement.corridor_m:
                continue
            asset = self.store.get("asset", movement.asset_id)
            callsign = asset.data.get("callsign") if asset is not None else None
            type_id = asset.data.get("type_id") if asset is not None else None
            type_name = self.viewer.type_name(type_id)
            what = (
                f"the movement of {callsign or movement.asset_id} ({type_name}), "
                f"{short(format_time(movement.start))} to {short(format_time(movement.end))}"
            )
            self._registered(stored, what)
            start = format_time(movement.start)
            if self.inc.start <= start <= self.inc.end:
                self.timeline.add(
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
                    "type_name": type_name,
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
        for stored in self.viewer.visible(AREA):
            data = stored.data
            if not self.inc.overlaps(data.get("start"), data.get("end")):
                continue
            area = Area.model_validate(data)
            d = self.inc.geometry_distance_m(area.shape)
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
        for stored in self.viewer.visible(SITE):
            site = Site.model_validate(stored.data)
            d = self.inc.distance_m(site.position.lat, site.position.lon)
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
            if not self.viewer.reads_party(record["party_id"]):
                continue
            request, result = record["request"], record["result"]
            try:
                point = geo.parse_point(request.get("position"))
            except ValueError:
                continue
            cep = float(request.get("cep_m") or 0.0)
            d = self.inc.distance_m(point.lat, point.lon)
            if d > self.inc.radius_m + geo.r99(cep) + point.extra_radius_m:
                continue
            if self.planner is not None and result.get("verdict") == "HOLD":
                # one query per check shown (not per check of the window)
                result = self.planner.owner_responses(record["id"], result)
            matches = result.get("matches") or []
            named = [self.viewer.match_name(m) for m in matches]
            verdict = result.get("verdict")
            unit = self.viewer.unit(record["unit_id"])
            text = f"{unit} checks a point {d / 1000:.1f} km from the incident"
            note = request.get("note")
            if note:
                text += f" ({note!r})"
            text += f": {verdict}"
            if named:
                text += " naming " + ", ".join(named)
            self.timeline.add(
                record["created_at"], "check", text, record["party_id"], check_id=record["id"]
            )
            for m, n in zip(matches, named, strict=True):
                owner = m.get("owner_response")
                if owner and m.get("kind") == "asset":
                    self.timeline.add(
                        str(owner.get("at")),
                        "answered",
                        f"{self.viewer.party(m.get('party_id'))} answers "
                        f"{owner.get('response')} on {unit}'s check about {n} ({owner.get('by')})",
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
            if not self.viewer.reads_party(row["party_id"]):
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
            about = asset.get("callsign") or self.viewer.about(row)
            item = {
                "id": row["id"],
                "unit_id": row["unit_id"],
                "unit_name": self.viewer.unit(row["unit_id"]),
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
            self.timeline.add(
                row["created_at"],
                "notified",
                f"{item['unit_name']} {told}"
                + (f"; answer due by {short(row['deadline'])}" if row["deadline"] else ""),
                row["party_id"],
                notification_id=row["id"],
            )
            if row["response"]:
                self.timeline.add(
                    row["responded_at"],
                    "answered",
                    f"{item['unit_name']} answers {row['response']} to the {cause} about {about} "
                    f"({row['responded_by']})",
                    row["party_id"],
                    notification_id=row["id"],
                )
        return out
