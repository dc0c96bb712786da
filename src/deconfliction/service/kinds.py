"""The kinds of registered things: URL segment, model, who may read and write them."""

from __future__ import annotations

from dataclasses import dataclass

from deconfliction.domain.model import (
    Area,
    Asset,
    EquipmentType,
    Model,
    Movement,
    Party,
    Site,
    Unit,
)


@dataclass(frozen=True)
class Kind:
    #: The store's and the engine's name of the kind.
    name: str
    #: The URL segment under ``/v1``.
    path: str
    model: type[Model]
    #: Readable by any authenticated token (parties and the equipment catalogue).
    public: bool = False
    #: Written by admins only.
    admin_only: bool = False
    #: Has ``releasable_to`` (owner-only unless it says otherwise).
    releasable: bool = False
    #: Singular noun for messages.
    noun: str = ""


PARTY = Kind("party", "parties", Party, public=True, admin_only=True, noun="party")
EQUIPMENT_TYPE = Kind(
    "equipment_type",
    "equipment-types",
    EquipmentType,
    public=True,
    admin_only=True,
    noun="equipment type",
)
UNIT = Kind("unit", "units", Unit, noun="unit")
ASSET = Kind("asset", "assets", Asset, releasable=True, noun="asset")
MOVEMENT = Kind("movement", "movements", Movement, releasable=True, noun="movement")
AREA = Kind("area", "areas", Area, releasable=True, noun="area")
SITE = Kind("site", "sites", Site, releasable=True, noun="site")

KINDS: tuple[Kind, ...] = (PARTY, EQUIPMENT_TYPE, UNIT, ASSET, MOVEMENT, AREA, SITE)
BY_NAME: dict[str, Kind] = {k.name: k for k in KINDS}
#: The order in which a store is replayed into the engine (references first).
LOAD_ORDER: tuple[Kind, ...] = KINDS
