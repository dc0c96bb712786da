"""Registered objects (parties, units, assets, ...), in SQL both backends accept.

An object is a JSON document in ``objects`` beside its ``kind``, ``id``, ``party_id`` and
a ``version`` that starts at 1 and grows by one on each update. Every write appends its
event (``create``, ``update``, ``delete``; the payload the new state) in the same
transaction. Creating an object that exists, or whose id was retired, is
``AlreadyExists``; an update or delete of a missing object is ``NotFound``, of another
version than expected ``VersionConflict``.

:class:`ObjectSQL` runs on any backend that provides the ``BackendSQL`` primitives.
"""

from __future__ import annotations

import builtins
from collections.abc import Collection, Iterator, Sequence
from typing import Any

from deconfliction.store.base import StoredObject, check_kind, require_actor
from deconfliction.store.credentials import RETIRED_KINDS, CredentialSQL
from deconfliction.store.errors import AlreadyExists, NotFound, VersionConflict
from deconfliction.store.jsontext import dumps, loads
from deconfliction.store.times import parse_time

_COLUMNS = "kind, id, party_id, version, data, created_at, updated_at"
#: Ids per ``IN (...)`` of ``get_many`` (well under every backend's parameter limit).
_ID_PAGE = 500


def _object(row: Sequence[Any]) -> StoredObject:
    kind, obj_id, party_id, version, data, created_at, updated_at = row
    return StoredObject(
        kind=kind,
        id=obj_id,
        party_id=party_id,
        version=version,
        data=loads(data),
        created_at=parse_time(created_at),
        updated_at=parse_time(updated_at),
    )


class ObjectSQL(CredentialSQL):
    """The object methods of the ``Store`` protocol (see the module docstring)."""

    def create(
        self, kind: str, obj_id: str, party_id: str | None, data: dict[str, Any], actor: str
    ) -> StoredObject:
        check_kind(kind)
        require_actor(actor)
        body = dumps(data)
        payload = dumps({"party_id": party_id, "version": 1, "data": data})
        with self.transaction():
            now = self._now()
            inserted = self._execute(
                f"INSERT INTO objects ({_COLUMNS}) VALUES (?, ?, ?, 1, ?, ?, ?) "
                "ON CONFLICT (kind, id) DO NOTHING",
                (kind, obj_id, party_id, body, now, now),
            )
            if inserted != 1:
                raise AlreadyExists(kind, obj_id)
            # After the insert: a deletion of this id committing meanwhile has retired it
            # (the insert waited for it), so the check cannot miss it.
            if kind in RETIRED_KINDS and self.is_retired(kind, obj_id):
                raise AlreadyExists(kind, obj_id)
            self._append_event(now, kind, "create", obj_id, actor, payload)
        return _object((kind, obj_id, party_id, 1, body, now, now))

    def _current(self, kind: str, obj_id: str, expected_version: int | None) -> tuple[Any, ...]:
        """The stored ``(version, created_at)``, locked for the write that follows."""
        rows = self._fetch(
            self._locked("SELECT version, created_at FROM objects WHERE kind = ? AND id = ?"),
            (kind, obj_id),
        )
        if not rows:
            raise NotFound(kind, obj_id)
        row = rows[0]
        if expected_version is not None and row[0] != expected_version:
            raise VersionConflict(kind, obj_id, expected_version, row[0])
        return row

    def update(
        self,
        kind: str,
        obj_id: str,
        party_id: str | None,
        data: dict[str, Any],
        actor: str,
        expected_version: int | None = None,
    ) -> StoredObject:
        check_kind(kind)
        require_actor(actor)
        body = dumps(data)
        with self.transaction():
            version, created_at = self._current(kind, obj_id, expected_version)
            version += 1
            now = self._now()
            self._execute(
                "UPDATE objects SET party_id = ?, version = ?, data = ?, updated_at = ? "
                "WHERE kind = ? AND id = ?",
                (party_id, version, body, now, kind, obj_id),
            )
            payload = dumps({"party_id": party_id, "version": version, "data": data})
            self._append_event(now, kind, "update", obj_id, actor, payload)
        return _object((kind, obj_id, party_id, version, body, created_at, now))

    def delete(
        self, kind: str, obj_id: str, actor: str, expected_version: int | None = None
    ) -> None:
        check_kind(kind)
        require_actor(actor)
        with self.transaction():
            version, _ = self._current(kind, obj_id, expected_version)
            party = self._fetch(
                "SELECT party_id FROM objects WHERE kind = ? AND id = ?", (kind, obj_id)
            )
            self._execute("DELETE FROM objects WHERE kind = ? AND id = ?", (kind, obj_id))
            payload = dumps({"version": version})
            now = self._now()
            self._append_event(now, kind, "delete", obj_id, actor, payload)
            if kind == "unit":  # its credentials die with it (store/credentials.py)
                self.retire_unit(obj_id, party[0][0] if party else None, now, actor)

    def get(self, kind: str, obj_id: str) -> StoredObject | None:
        check_kind(kind)
        rows = self._fetch(
            f"SELECT {_COLUMNS} FROM objects WHERE kind = ? AND id = ?", (kind, obj_id)
        )
        return _object(rows[0]) if rows else None

    def get_many(self, kind: str, obj_ids: Collection[str]) -> dict[str, StoredObject]:
        check_kind(kind)
        wanted = sorted(set(obj_ids))
        found: dict[str, StoredObject] = {}
        with self._read():  # one state for every page
            for start in range(0, len(wanted), _ID_PAGE):
                page = wanted[start : start + _ID_PAGE]
                rows = self._fetch(
                    f"SELECT {_COLUMNS} FROM objects WHERE kind = ? "
                    f"AND id IN ({', '.join('?' * len(page))})",
                    (kind, *page),
                )
                for row in rows:
                    found[row[1]] = _object(row)
        return found

    def list(
        self,
        kind: str,
        *,
        party_ids: Collection[str] | None = None,
        after_id: str | None = None,
        limit: int = 100,
    ) -> builtins.list[StoredObject]:
        check_kind(kind)
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        # ``id`` compares as bytes in both backends (PostgreSQL: COLLATE "C", see the
        # migrations), so keyset pages are in one order, served by the primary key.
        sql = f"SELECT {_COLUMNS} FROM objects WHERE kind = ?"
        params: builtins.list[Any] = [kind]
        if after_id is not None:
            sql += " AND id > ?"
            params.append(after_id)
        if party_ids is not None:
            wanted = sorted(set(party_ids))
            if not wanted:
                return []
            sql += f" AND party_id IN ({', '.join('?' * len(wanted))})"
            params.extend(wanted)
        sql += " ORDER BY id LIMIT ?"
        params.append(limit)
        return [_object(row) for row in self._fetch(sql, params)]

    def iter_all(self, kind: str) -> Iterator[StoredObject]:
        check_kind(kind)
        sql = f"SELECT {_COLUMNS} FROM objects WHERE kind = ? ORDER BY id"
        for row in self._snapshot(sql, (kind,)):
            yield _object(row)

    def count(self, kind: str) -> int:
        check_kind(kind)
        return self._scalar("SELECT COUNT(*) FROM objects WHERE kind = ?", (kind,))
