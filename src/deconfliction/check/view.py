"""What a check reads of the engine: its settings, the records the indexed shapes
carry, and the typed read-only view (:class:`CheckView`) the engine hands every check.

The view is built once, with the engine, over the engine's own containers (they are
changed in place, never replaced), so a check costs no copy and no extra allocation;
the engine's lock keeps writers out while a check reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from deconfliction.check.codes import Codes, Releasability
from deconfliction.check.index.assets import AssetTable
from deconfliction.check.index.shapes import Shape, ShapeIndex
from deconfliction.domain.coarse import Lattice
from deconfliction.domain.model import EquipmentType, Party


@dataclass(frozen=True, slots=True)
class CheckSettings:
    horizon: timedelta = timedelta(hours=6)
    fresh: timedelta = timedelta(minutes=15)
    gap_radius_m: float = 50_000.0
    max_matches: int = 50
    max_gaps: int = 20
    #: What the asker may not see is matched on this lattice (domain/coarse.py).
    withheld: Lattice = field(default_factory=Lattice)


@dataclass(frozen=True, slots=True)
class AreaInfo:
    """What the check needs of an area (its geometry lives in the shape index)."""

    id: str
    party_id: str
    kind: str
    start: float
    end: float
    asset_ids: tuple[str, ...]
    releasable_to: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class MovementInfo:
    id: str
    asset_id: str
    corridor_m: float
    start: float
    end: float
    releasable_to: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class CheckView:
    """The engine's state as a check reads it (``Engine`` builds it; nothing writes
    through it but the releasability codes, which intern a shape's set on first use)."""

    settings: CheckSettings
    assets: AssetTable
    shapes: ShapeIndex
    #: Shapes near a lattice cell's centre, cached by the engine (``Engine.near_cell``).
    near_cell: Callable[[float, float, float], tuple[Shape, ...]]
    parties: Mapping[str, Party]
    #: A dict, as ``domain.features.compare`` takes the catalogue.
    types: dict[str, EquipmentType]
    areas: Mapping[str, AreaInfo]
    areas_of_asset: Mapping[str, Collection[str]]
    party_codes: Codes
    type_codes: Codes
    releasability: Releasability
    #: Per asset slot: its callsign and its own contact (else its party's).
    callsigns: Sequence[str]
    contacts: Sequence[str | None]
