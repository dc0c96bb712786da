"""Create, read, replace, delete and list registered things, with roles and releasability."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from deconfliction.domain.model import Area, Asset, Model, Movement, Site, Unit
from deconfliction.service import stored_form
from deconfliction.service.access import Principal
from deconfliction.service.core import Service
from deconfliction.service.errors import Conflict, Forbidden, InvalidInput, NotFound
from deconfliction.service.kinds import (
    AREA,
    ASSET,
    EQUIPMENT_TYPE,
    MOVEMENT,
    PARTY,
    SITE,
    UNIT,
    Kind,
)
from deconfliction.service.validation import validate
from deconfliction.store.base import StoredObject
from deconfliction.store.errors import AlreadyExists, VersionConflict
from deconfliction.store.errors import NotFound as StoreNotFound

DEFAULT_PAGE = 100
MAX_PAGE = 1000
_SCAN_PAGE = 500


class Registry:
    def __init__(self, service: Service) -> None:
        self.service = service
        self.store = service.store

    # -- reads ---------------------------------------------------------------
    def visible(self, who: Principal, kind: Kind, stored: StoredObject) -> bool:
        if kind.public or who.is_admin:
            return True
        if not kind.releasable:
            return stored.party_id is not None and stored.party_id == who.party_id
        return who.may_see(stored.party_id, stored.data.get("releasable_to"))

    def get(self, who: Principal, kind: Kind, obj_id: str) -> dict[str, Any]:
        stored = self.store.get(kind.name, obj_id)
        if stored is None or not self.visible(who, kind, stored):
            raise _not_found(kind, obj_id)
        return stored.data

    def list(
        self, who: Principal, kind: Kind, limit: int | None, after: str | None
    ) -> dict[str, Any]:
        size = DEFAULT_PAGE if limit is None else limit
        if not 1 <= size <= MAX_PAGE:
            raise InvalidInput(f"limit must be within [1, {MAX_PAGE}], got {size}", field="limit")
        items: list[dict[str, Any]] = []
        for stored in self._visible_after(who, kind, after):
            items.append(stored.data)
            if len(items) == size:
                break
        nxt = items[-1]["id"] if len(items) == size else None
        return {"items": items, "next": nxt}

    def _visible_after(
        self, who: Principal, kind: Kind, after: str | None
    ) -> Iterator[StoredObject]:
        """Objects visible to ``who``, by id, after ``after`` (keyset)."""
        party_ids: list[str] | None = None
        if not (kind.public or who.is_admin) and not kind.releasable:
            if who.party_id is None:
                return
            party_ids = [who.party_id]
        cursor = after
        while True:
            page = self.store.list(
                kind.name, party_ids=party_ids, after_id=cursor, limit=_SCAN_PAGE
            )
            for stored in page:
                if self.visible(who, kind, stored):
                    yield stored
            if len(page) < _SCAN_PAGE:
                return
            cursor = page[-1].id

    # -- writes --------------------------------------------------------------
    def create(self, who: Principal, kind: Kind, data: Any) -> dict[str, Any]:
        self._gate(who, kind)
        model = validate(kind.model, data)
        owner = self._owner(who, kind, model)
        doc = stored_form.to_doc(model, data)
        with self.service.lock:
            self._check_references(who, kind, model)
            self._check_cot_uid(model, owner)
            try:
                with self.service.writing():
                    self.store.create(kind.name, _id(model), owner, doc, who.actor)
                    self.service.object_written(kind.name, model, owner)
            except AlreadyExists:
                raise Conflict(
                    _taken(kind, _id(model)), field="id", code="already_exists"
                ) from None
            self._apply(kind, model, owner)
        self.service.drain()  # the rest of a large fan-out, in chunks, before answering
        return doc

    def replace(self, who: Principal, kind: Kind, obj_id: str, data: Any) -> dict[str, Any]:
        self._gate(who, kind)
        if isinstance(data, dict):
            data.setdefault("id", obj_id)
        model = validate(kind.model, data)
        if _id(model) != obj_id:
            raise InvalidInput(
                f"the body's id {_id(model)!r} differs from the path's {obj_id!r}", field="id"
            )
        with self.service.lock:
            stored = self.store.get(kind.name, obj_id)
            if stored is None or not self.visible(who, kind, stored):
                raise _not_found(kind, obj_id)
            if not kind.admin_only and not who.may_manage(stored.party_id):
                raise Forbidden(f"this token may not change {kind.noun} {obj_id!r}")
            owner = self._owner(who, kind, model)
            self._check_references(who, kind, model)
            self._check_cot_uid(model, owner)
            doc = stored_form.to_doc(model, data)
            try:
                with self.service.writing():
                    self.store.update(
                        kind.name, obj_id, owner, doc, who.actor, expected_version=stored.version
                    )
                    self.service.object_written(kind.name, model, owner)
            except VersionConflict as exc:
                raise Conflict(str(exc), code="version_conflict") from None
            except StoreNotFound:
                raise _not_found(kind, obj_id) from None
            self._apply(kind, model, owner)
        self.service.drain()  # the rest of a large fan-out, in chunks, before answering
        return doc

    def delete(self, who: Principal, kind: Kind, obj_id: str) -> None:
        self._gate(who, kind)
        with self.service.lock:
            stored = self.store.get(kind.name, obj_id)
            if stored is None or not self.visible(who, kind, stored):
                raise _not_found(kind, obj_id)
            if not kind.admin_only and not who.may_manage(stored.party_id):
                raise Forbidden(f"this token may not delete {kind.noun} {obj_id!r}")
            self._check_unused(kind, stored)
            try:
                with self.service.writing():
                    self.store.delete(kind.name, obj_id, who.actor, expected_version=stored.version)
            except VersionConflict as exc:
                raise Conflict(str(exc), code="version_conflict") from None
            except StoreNotFound:
                raise _not_found(kind, obj_id) from None
            if self.service.engine.ready:  # else the loader reads it from the store
                self.service.engine.remove(kind.name, obj_id)
            self.service.object_removed(kind.name, obj_id)
            if kind is ASSET and self.service.asset_party is not None:
                self.service.asset_party.pop(obj_id, None)

    # -- rules ---------------------------------------------------------------
    def _gate(self, who: Principal, kind: Kind) -> None:
        """Role-level write permission, before the body is even read."""
        if who.is_admin:
            return
        if kind.admin_only:
            raise Forbidden(f"only an admin token may write {kind.path}")
        if who.role != "coordinator":
            raise Forbidden(f"an {who.role} token may not write {kind.path}")

    def _owner(self, who: Principal, kind: Kind, model: Model) -> str | None:
        """The owner party of a validated object; 403 if ``who`` may not manage it."""
        if kind is PARTY:
            return _id(model)
        if kind is EQUIPMENT_TYPE:
            return None
        if isinstance(model, Movement):
            asset = self.store.get(ASSET.name, model.asset_id)
            if asset is None or not self.visible(who, ASSET, asset):
                raise InvalidInput(
                    f"unknown asset {model.asset_id!r}", field="asset_id", code="unknown_reference"
                )
            owner = asset.party_id
        else:
            owner = str(getattr(model, "party_id"))  # noqa: B009  (every other kind has one)
        if not who.may_manage(owner):
            raise Forbidden(
                f"a coordinator of party {who.party_id!r} may not manage "
                f"{kind.path} of party {owner!r}",
                field="party_id" if kind is not MOVEMENT else "asset_id",
            )
        return owner

    def _check_references(self, who: Principal, kind: Kind, model: Model) -> None:
        """Every id a body names must exist (and be visible): else 422 ``unknown_reference``."""
        if isinstance(model, Unit | Asset | Area | Site):
            self._require(PARTY, model.party_id, "party_id", who)
        if isinstance(model, Asset):
            self._require(EQUIPMENT_TYPE, model.type_id, "type_id", who)
        if isinstance(model, Area):
            for i, asset_id in enumerate(model.asset_ids):
                asset = self.store.get(ASSET.name, asset_id)
                if asset is None or asset.party_id != model.party_id:
                    raise InvalidInput(
                        f"unknown asset {asset_id!r} (an area names its own party's assets)",
                        field=f"asset_ids[{i}]",
                        code="unknown_reference",
                    )

    def _check_cot_uid(self, model: Model, owner: str | None) -> None:
        """A TAK uid is unique within its party (409 ``cot_uid_in_use`` naming the party's
        other asset). Only the owner party's assets are read: another party's use of the
        uid is allowed and makes no difference to the answer or its cost (docs/design/security.md,
        "TAK uids and plain-port reports")."""
        if not isinstance(model, Asset) or model.cot_uid is None or owner is None:
            return
        for other in self._of_party(ASSET, owner):
            if other.id != model.id and other.data.get("cot_uid") == model.cot_uid:
                raise Conflict(
                    f"cot_uid {model.cot_uid!r} is already bound to asset {other.id!r} of "
                    f"party {owner!r}; a TAK uid binds one asset per party",
                    field="cot_uid",
                    code="cot_uid_in_use",
                )

    def _require(self, kind: Kind, obj_id: str, field: str, who: Principal) -> None:
        stored = self.store.get(kind.name, obj_id)
        if stored is None or not self.visible(who, kind, stored):
            raise InvalidInput(
                f"unknown {kind.noun} {obj_id!r}", field=field, code="unknown_reference"
            )

    def _check_unused(self, kind: Kind, stored: StoredObject) -> None:
        """Refuse (409 ``in_use``) to delete what other objects still name."""
        users: list[tuple[Kind, str]] = []
        if kind is PARTY:
            for other in (UNIT, ASSET, AREA, SITE, MOVEMENT):
                if self.store.list(other.name, party_ids=[stored.id], limit=1):
                    users.append((other, "party_id"))
        elif kind is EQUIPMENT_TYPE:
            if any(a.data.get("type_id") == stored.id for a in self.store.iter_all(ASSET.name)):
                users.append((ASSET, "type_id"))
        elif kind is ASSET and stored.party_id is not None:
            for other, key in ((MOVEMENT, "asset_id"), (AREA, "asset_ids")):
                for obj in self._of_party(other, stored.party_id):
                    value = obj.data.get(key)
                    if value == stored.id or (isinstance(value, list) and stored.id in value):
                        users.append((other, key))
                        break
        if users:
            names = ", ".join(other.path for other, _ in users)
            raise Conflict(
                f"{kind.noun} {stored.id!r} is still named by {names}; "
                "delete or change those first",
                code="in_use",
            )

    def _of_party(self, kind: Kind, party_id: str) -> Iterator[StoredObject]:
        cursor: str | None = None
        while True:
            page = self.store.list(
                kind.name, party_ids=[party_id], after_id=cursor, limit=_SCAN_PAGE
            )
            yield from page
            if len(page) < _SCAN_PAGE:
                return
            cursor = page[-1].id

    def _apply(self, kind: Kind, model: Model, owner: str | None) -> None:
        """Keep the engine (and the asset → party map) in step; under the write lock."""
        if self.service.engine.ready:  # else the loader, still to run, reads it from the store
            self.service.engine.put(model)  # type: ignore[arg-type]
        if kind is ASSET and self.service.asset_party is not None and owner is not None:
            self.service.asset_party[_id(model)] = owner


def _id(model: Model) -> str:
    return str(getattr(model, "id"))  # noqa: B009


def _not_found(kind: Kind, obj_id: str) -> NotFound:
    return NotFound(f"no {kind.noun} {obj_id!r}", code="not_found")


def _taken(kind: Kind, obj_id: str) -> str:
    """Why an id cannot be created. A unit's id is never reissued once deleted, and the
    refusal is the same whether the id is in use or retired, and whoever used it: it tells
    no more than that the id was taken (docs/design/security.md, "Credentials die with
    their unit")."""
    if kind is UNIT:
        return (
            f"unit id {obj_id!r} is taken (it is in use or was used before; "
            "unit ids are never reissued): choose another id"
        )
    return f"{kind.noun} {obj_id!r} already exists"
