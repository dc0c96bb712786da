"""The demo incident played into a store at its own pace, for the review example.

``load_demo`` writes the whole scenario at one instant; a review of that would show
every event at the same second. Here the same fictional scenario goes through the
real use cases (registry, reports, notifications, the check) on a fresh store whose
clock, and the service's, stand at each moment of the story: Westmark registers
Bastion-2's march fifty minutes before the incident, the service announces it and
briefs Kestrel 7 on the Skyshield-W, Kestrel 7 answers, the reports come in every
five minutes, Kestrel 7 checks at the incident (``HOLD``, naming Bastion-2), and
Westmark's cell confirms it is theirs. The story ends at the real current time, so
the check runs on the real engine clock like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from deconfliction.audit.keys import NodeKey
from deconfliction.check.engine import Engine
from deconfliction.domain.model import Model
from deconfliction.scenarios import demo
from deconfliction.service import stored_form
from deconfliction.service.access import Principal
from deconfliction.service.clock import Clock
from deconfliction.service.config import Settings
from deconfliction.service.core import Service
from deconfliction.service.kinds import BY_NAME
from deconfliction.store.sqlite import DATABASE_FILE, SQLiteStore
from deconfliction.store.times import format_time, parse_time
from deconfliction.usecases import UseCases

#: The review of the example: this far around the incident point.
EXAMPLE_RADIUS_M = 3_000.0
#: When Kestrel 7 answers the announcement and the briefing, after they are sent.
ACKNOWLEDGED_AFTER = timedelta(minutes=6)
BRIEFED_AFTER = timedelta(minutes=9)
#: When Westmark's cell answers the HOLD on its asset.
CONFIRMED_AFTER = timedelta(minutes=3)
#: Before the window: the standing registry (parties, units, catalogue, sites).
STANDING_BEFORE = timedelta(days=8)
K7_OPERATOR = "Cpl. R. Vance (Kestrel 7)"
NDF_DUTY_OFFICER = "Lt. J. Okafor (Northland joint coordination cell)"
WMA_DUTY_OFFICER = "Capt. L. Moreau (Westmark coordination cell)"


class StoryClock(Clock):
    """The story's time: set, never read from the wall."""

    def __init__(self, at: datetime) -> None:
        super().__init__()
        self.at = at

    def now(self) -> datetime:
        return self.at

    def set(self, at: datetime) -> None:
        if at < self.at:
            raise ValueError("the story's clock only moves forward")
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@dataclass(frozen=True)
class Story:
    usecases: UseCases
    scenario: demo.DemoScenario
    #: The incident: the check's time and point.
    at: datetime
    lat: float
    lon: float
    check: dict[str, Any]


def _admin() -> Principal:
    return Principal(token_id="demo-story", role="admin", unit_id=None, party_id=None)


def _coordinator(party: str, cell: str) -> Principal:
    return Principal(token_id="demo-story", role="coordinator", unit_id=cell, party_id=party)


def play(data_dir: Path, now: datetime | None = None) -> Story:
    """Play the demo into a new SQLite store in ``data_dir``; the incident is at ``now``
    (default: the current time, to the second)."""
    incident_at = (now or datetime.now(UTC)).replace(microsecond=0)
    scenario = demo.build_demo(incident_at)
    story = scenario.narrative
    clock = StoryClock(incident_at - STANDING_BEFORE)
    data_dir.mkdir(parents=True, exist_ok=True)
    store = SQLiteStore(data_dir / DATABASE_FILE, clock=clock)
    store.migrate()
    store.use_audit_key(NodeKey.load_or_create(data_dir))
    service = Service(store, Engine(), Settings(data_dir=data_dir))
    service.clock = clock
    uc = UseCases.around(service)
    service.load_now()

    cells = {u.party_id: u.id for u in scenario.units if u.coordination_cell}
    admin = _admin()

    def advance(to: datetime) -> None:
        """Move the story's clock to ``to``, escalating at each deadline on the way, as the
        running service's escalator would."""
        while True:
            due = store.next_deadline()
            if due is None or due > format_time(to):
                break
            clock.set(max(clock.at, parse_time(due)))
            if uc.notifications.escalator.tick() == 0:
                break
        clock.set(max(clock.at, to))

    def register(who: Principal, model: Model, kind: str) -> None:
        uc.registry.create(who, BY_NAME[kind], stored_form.to_doc(model, None))

    def owner(party: str) -> Principal:
        return _coordinator(party, cells[party])

    # The standing registry, a week before: parties, units, the catalogue, and what was
    # already there (Citadel-1, Kestrel 7's vehicle, the relief convoy, shelter, hospital).
    for party in scenario.parties:
        register(admin, party, "party")
    for unit in scenario.units:
        register(admin, unit, "unit")
    for kind in scenario.equipment_types:
        register(admin, kind, "equipment_type")
    for asset in scenario.assets:
        if asset.id != demo.VARIANT_ASSET:
            register(owner(asset.party_id), asset, "asset")
    for area in scenario.areas:
        register(owner(area.party_id), area, "area")
    for site in scenario.sites:
        register(owner(site.party_id), site, "site")

    # Fifty minutes before: Westmark registers Bastion-2 and its march; the service
    # announces it to Kestrel 7 and briefs the team on the Skyshield-W.
    advance(story.arrival_announced_at)
    wma = owner(demo.WMA)
    register(wma, next(a for a in scenario.assets if a.id == demo.VARIANT_ASSET), "asset")
    register(wma, next(m for m in scenario.movements if m.id == demo.VARIANT_MOVEMENT), "movement")
    k7 = Principal(
        token_id="demo-story", role="operator", unit_id=demo.DRONE_TEAM, party_id=demo.NDF
    )
    sent = store.find_notifications(party_id=demo.NDF)
    ndf = owner(demo.NDF)
    for after, cause, response in (
        (ACKNOWLEDGED_AFTER, "announced_arrival", "acknowledged"),
        (BRIEFED_AFTER, "recognition_briefing", "briefed"),
    ):
        advance(story.arrival_announced_at + after)
        for row in sent:
            if row["cause"] != cause or row["unit_id"] is None:
                continue
            if row["unit_id"] == demo.DRONE_TEAM:
                uc.notifications.respond(k7, row["id"], {"by": K7_OPERATOR, "response": response})
            else:  # Northland's coordination cell, for its own area
                uc.notifications.respond(
                    ndf, row["id"], {"by": NDF_DUTY_OFFICER, "response": response}
                )

    # The convoy's run is registered as it starts; then every report at its own time.
    convoy = next(m for m in scenario.movements if m.id == demo.CONVOY_MOVEMENT)
    moments: list[tuple[datetime, str, Any]] = [(convoy.start, "movement", convoy)]
    moments += [(r.time + timedelta(seconds=5), "report", r) for r in scenario.reports]
    moments.sort(key=lambda m: m[0])
    parties_of = {a.id: a.party_id for a in scenario.assets}
    for at, what, model in moments:
        advance(at)
        if what == "movement":
            register(owner(demo.OHR), model, "movement")
        else:
            body = [stored_form.report_row(model)]
            doc = model.model_dump(mode="json", exclude_none=True)
            doc["time"] = body[0]["time"]
            uc.reports.post(owner(parties_of[model.asset_id]), [doc])

    # The incident: Kestrel 7 checks before acting.
    advance(incident_at)
    observation = scenario.incident_check.model_dump(mode="json", exclude_none=True)
    answer = orjson.loads(uc.checks.check(k7, orjson.dumps(observation)))

    # Westmark's cell confirms: it is Bastion-2.
    advance(incident_at + CONFIRMED_AFTER)
    for row in store.find_notifications(party_id=demo.WMA, cause="hold_on_your_asset"):
        if row["unit_id"] is not None:
            uc.notifications.respond(
                wma, row["id"], {"by": WMA_DUTY_OFFICER, "response": "confirmed_ours"}
            )
    point = scenario.incident_check.position
    return Story(uc, scenario, incident_at, point.lat, point.lon, answer)
