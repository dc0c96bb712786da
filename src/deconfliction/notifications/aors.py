"""Units as their AOR's shape in the engine's index knows them, and the units whose AOR a
geometry touches: what planning a fan-out or an entry needs, from the index rather than by
reading and validating each unit from the store (which is what is left while the index loads).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from shapely.geometry.base import BaseGeometry

from deconfliction.check.index.shapes import AorRef, Shape
from deconfliction.domain import planning
from deconfliction.domain.model import Unit
from deconfliction.notifications.context import PlanContext


@dataclass(frozen=True, slots=True)
class AorUnit:
    """A unit as its AOR's shape in the index knows it: what planning a fan-out needs,
    without reading and validating each unit from the store."""

    id: str
    party_id: str
    name: str
    aor_shape: BaseGeometry
    aor_start: datetime | None
    aor_end: datetime | None

    @classmethod
    def of(cls, shape: Shape) -> AorUnit:
        ref: AorRef = shape.payload
        return cls(
            ref.unit_id,
            ref.party_id,
            ref.name,
            shape.geom,
            None if math.isinf(shape.start) else datetime.fromtimestamp(shape.start, UTC),
            None if math.isinf(shape.end) else datetime.fromtimestamp(shape.end, UTC),
        )


def units_touching(context: PlanContext, geom: BaseGeometry, margin_m: float) -> list[Unit]:
    """Units whose AOR a line (within ``margin_m``) or polygon touches, by the index."""
    engine = context.service.engine
    ids: Iterable[str]
    if engine.ready:
        ids = [s.payload.unit_id for s in engine.shapes.touching(geom, margin_m, "aor")]
    else:  # the index is loading: every unit (rare, and correct)
        ids = [s.id for s in context.store.iter_all("unit")]
    out = []
    for unit_id in ids:
        unit = context.get("unit", unit_id, Unit)
        if unit is not None and planning.geometries_within(geom, unit.aor_shape, margin_m):
            out.append(unit)
    return out


def aor_candidates(
    context: PlanContext, geom: BaseGeometry, margin_m: float
) -> list[Unit | AorUnit]:
    """Units whose AOR may come within ``margin_m`` of a line: a superset, from the
    index's cells, for a caller whose own test is exact (the route entry)."""
    engine = context.service.engine
    if engine.ready:
        shapes = engine.shapes.touching(geom, margin_m, "aor", exact=False)
        return [AorUnit.of(shape) for shape in shapes]
    units = (context.get("unit", s.id, Unit) for s in context.store.iter_all("unit"))
    return [u for u in units if u is not None]


def unit_of(shape: Shape) -> str:
    """The unit of an AOR's shape."""
    ref: AorRef = shape.payload
    return ref.unit_id
