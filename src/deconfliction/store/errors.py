"""Errors raised by a store. Backends translate their driver's errors into these."""

from __future__ import annotations


class StoreError(Exception):
    """The store could not do what was asked (I/O, corruption, bad input to the store)."""


class NotFound(StoreError):
    """The object asked for does not exist."""

    def __init__(self, kind: str, obj_id: str) -> None:
        self.kind = kind
        self.obj_id = obj_id
        super().__init__(f"{kind} {obj_id!r} not found")


class AlreadyExists(StoreError):
    """An object with this kind and id is already stored."""

    def __init__(self, kind: str, obj_id: str) -> None:
        self.kind = kind
        self.obj_id = obj_id
        super().__init__(f"{kind} {obj_id!r} already exists")


class VersionConflict(StoreError):
    """An update expected a version that is no longer the stored one."""

    def __init__(self, kind: str, obj_id: str, expected: int, actual: int) -> None:
        self.kind = kind
        self.obj_id = obj_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"{kind} {obj_id!r} is at version {actual}, not the expected version {expected}"
        )
