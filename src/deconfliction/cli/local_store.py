"""The store the commands that work on it directly open (``token``, ``import``, ``audit``
…): from ``--data-dir``/``--database-url``, with friendly errors, and what they signed
anchored beside the audit key when they are done."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deconfliction.cli.base import fail


def open_or_fail(data_dir: Path, database_url: str | None, *, sign: bool = True) -> Any:
    """The configured store (created in ``data_dir`` when no URL is given), or an exit
    with the reason it could not be opened."""
    from deconfliction.store import StoreError, open_store

    try:
        if not database_url:
            data_dir.mkdir(parents=True, exist_ok=True)
        return open_store(data_dir, database_url, sign=sign)
    except (ValueError, NotImplementedError, OSError, StoreError) as exc:
        raise fail(str(exc)) from None


class LocalStore:
    """The configured store, with friendly errors."""

    def __init__(self, data_dir: Path, database_url: str | None, *, sign: bool = True) -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        self.sign = sign

    def __enter__(self) -> Any:
        self.store = open_or_fail(self.data_dir, self.database_url, sign=self.sign)
        return self.store

    def __exit__(self, exc_type: object, *exc: object) -> None:
        try:
            if self.sign and exc_type is None:
                # What this command signed is anchored beside the key (docs/design/security.md).
                from deconfliction.service.audit_watch import anchor_newest
                from deconfliction.store import store_location

                location = store_location(self.data_dir, self.database_url)
                anchor_newest(self.store, self.data_dir, location)
        finally:
            self.store.close()
