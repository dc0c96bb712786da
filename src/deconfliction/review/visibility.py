"""What one viewer of a review may see of the record, and the names it reads things by.

Releasability is applied once, here, for every list of the review: registered objects
through ``Registry.visible`` (the rule of the lists); notifications and checks of the
viewer's own party only, as a coordinator of that party reads them (a check's position
goes to the asker and, as a ``hold_on_your_asset`` notification, to the owners of what it
matched). An admin viewer (the CLI on the store, without ``--as-party``) sees the whole
record. Names follow the same rule: an asset the viewer may not see is named by its type,
a withheld match stays withheld.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from deconfliction.service.access import Principal
from deconfliction.service.kinds import ASSET, BY_NAME, UNIT, Kind
from deconfliction.service.registry import Registry
from deconfliction.store.base import StoredObject


class Viewer:
    """One viewer's releasability, and the unit, party and type names it may read (after
    :meth:`load_names`)."""

    def __init__(self, registry: Registry, who: Principal) -> None:
        self.registry = registry
        self.store = registry.store
        self.who = who
        self.party_names: dict[str, str] = {}
        self.unit_names: dict[str, str] = {}
        self.type_docs: dict[str, dict[str, Any]] = {}

    def load_names(self) -> None:
        """Read the names of the units the viewer may see, and of every party and type."""
        for stored in self.visible(UNIT):
            self.unit_names[stored.id] = str(stored.data.get("name") or stored.id)
        for stored in self.store.iter_all("party"):  # public
            self.party_names[stored.id] = str(stored.data.get("name") or stored.id)
        for stored in self.store.iter_all("equipment_type"):  # public
            self.type_docs[stored.id] = stored.data

    # -- what the viewer may see -----------------------------------------------------------
    def visible(self, kind: Kind) -> Iterable[StoredObject]:
        """Every stored object of ``kind`` the viewer may see."""
        for stored in self.store.iter_all(kind.name):
            if self.registry.visible(self.who, kind, stored):
                yield stored

    def may_see(self, kind: Kind, stored: StoredObject) -> bool:
        return self.registry.visible(self.who, kind, stored)

    def reads_party(self, party_id: str | None) -> bool:
        """Whether the viewer reads a party's own records (its checks, its notifications)."""
        return self.who.is_admin or party_id == self.who.party_id

    # -- names -------------------------------------------------------------------------------
    def party(self, party_id: str | None) -> str:
        return self.party_names.get(party_id or "", party_id or "unknown party")

    def unit(self, unit_id: str | None) -> str:
        if unit_id is None:
            return "the out-of-band contact"
        return self.unit_names.get(unit_id, unit_id)

    def type_doc(self, type_id: str) -> dict[str, Any]:
        """An equipment type's document (empty if there is none)."""
        return self.type_docs.get(type_id, {})

    def type_name(self, type_id: str | None) -> str:
        doc = self.type_docs.get(type_id or "")
        return str(doc["name"]) if doc else str(type_id)

    def about(self, row: dict[str, Any]) -> str:
        """What a notification is about, as far as the viewer may know it."""
        if row["asset_id"] and row["cause"] != "recognition_briefing":
            stored = self.store.get("asset", row["asset_id"])
            if stored is not None and self.may_see(ASSET, stored):
                return str(stored.data.get("callsign") or row["asset_id"])
        return self.type_name(row["type_id"]) if row["type_id"] else "an asset"

    def match_name(self, match: dict[str, Any]) -> str:
        """What a match names, as the asker was told it (withheld stays withheld)."""
        kind, obj_id = match.get("kind"), match.get("id")
        if match.get("details_withheld") or obj_id is None:
            return f"a {kind} of {self.party(match.get('party_id'))} (details withheld)"
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
