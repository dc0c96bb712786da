"""Put the fictional demo scenario into a store, and replay its incident.

Loading is an upsert: every demo object is created, or replaced by its version
for ``now`` (so the story is current whenever it is loaded), and the demo's
position reports are added. Loading twice leaves the same objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from deconfliction.check.engine import Engine
from deconfliction.domain.model import Model
from deconfliction.domain.result import CheckResult
from deconfliction.scenarios.demo import DRONE_TEAM, DemoScenario, build_demo
from deconfliction.service import stored_form
from deconfliction.service.kinds import KINDS
from deconfliction.store import Store

_KIND_OF = {kind.model: kind for kind in KINDS}


@dataclass(frozen=True)
class DemoLoad:
    scenario: DemoScenario
    created: int
    updated: int
    reports: int


def owner_of(model: Model, parties_of_assets: dict[str, str]) -> str | None:
    kind = _KIND_OF[type(model)]
    if kind.name == "party":
        return str(getattr(model, "id"))  # noqa: B009
    if kind.name == "equipment_type":
        return None
    if kind.name == "movement":
        return parties_of_assets.get(str(getattr(model, "asset_id")))  # noqa: B009
    return str(getattr(model, "party_id"))  # noqa: B009


def load_demo(store: Store, now: datetime, actor: str = "demo") -> DemoLoad:
    """Upsert the scenario for ``now`` into ``store`` in one transaction."""
    scenario = build_demo(now)
    parties_of_assets = {a.id: a.party_id for a in scenario.assets}
    created = updated = 0
    with store.transaction():
        for model in scenario.records():
            kind = _KIND_OF.get(type(model))
            if kind is None:
                continue  # reports, below
            obj_id = str(getattr(model, "id"))  # noqa: B009
            doc: dict[str, Any] = stored_form.to_doc(model, None)
            owner = owner_of(model, parties_of_assets)
            existing = store.get(kind.name, obj_id)
            if existing is None:
                store.create(kind.name, obj_id, owner, doc, actor)
                created += 1
            elif existing.data != doc or existing.party_id != owner:
                store.update(kind.name, obj_id, owner, doc, actor)
                updated += 1
        rows = [stored_form.report_row(r) for r in scenario.reports]
        reports = store.add_reports(rows, actor)
    return DemoLoad(scenario, created, updated, reports)


def drone_team_unit() -> str:
    return DRONE_TEAM


def engine_for(scenario: DemoScenario) -> Engine:
    """A ready engine holding the scenario alone."""
    engine = Engine()
    engine.load(
        parties=scenario.parties,
        units=scenario.units,
        equipment_types=scenario.equipment_types,
        assets=scenario.assets,
        reports=scenario.reports,
        movements=scenario.movements,
        areas=scenario.areas,
        sites=scenario.sites,
    )
    return engine


def replay_check(scenario: DemoScenario) -> CheckResult:
    """The incident's check, run by the real engine over the scenario alone."""
    engine = engine_for(scenario)
    asker = next(u.party_id for u in scenario.units if u.id == scenario.incident_check.unit_id)
    return engine.check(scenario.incident_check, asker, now=scenario.narrative.incident_at)
