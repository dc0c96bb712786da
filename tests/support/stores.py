"""Stores of either backend for the store-level tests: :class:`StoreFactory` (the
``store_factory`` fixture of ``tests/conftest.py`` hands one to each test) and the helper
that adds PostgreSQL settings to a URL."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit


def with_pg_options(url: str, *options: str) -> str:
    """``url`` with server settings (``-c name=value``) added to its ``options``."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query["options"] = " ".join(filter(None, [query.get("options", ""), *options]))
    return parts._replace(query=urlencode(query, quote_via=quote)).geturl()


class StoreFactory:
    """Opens stores of one backend on one database (a file in ``tmp_path``, or a
    fresh PostgreSQL database); every store it opens is closed after the test."""

    def __init__(self, backend: str, data_dir: Path, database_url: str | None) -> None:
        self.backend = backend
        #: What ``open_store(data_dir, database_url)`` takes to open this database.
        self.data_dir = data_dir
        self.database_url = database_url
        self.opened: list[Any] = []

    def __call__(
        self,
        *,
        clock: Callable[[], Any] | None = None,
        migrate: bool = True,
        durability: str = "normal",
    ) -> Any:
        from deconfliction.store import DATABASE_FILE, PostgresStore, SQLiteStore

        kwargs: dict[str, Any] = {"durability": durability}
        if clock is not None:
            kwargs["clock"] = clock
        store: Any
        if self.database_url is None:
            store = SQLiteStore(self.data_dir / DATABASE_FILE, **kwargs)
        else:
            store = PostgresStore(self.database_url, **kwargs)
        self.opened.append(store)
        if migrate:
            store.migrate()
        return store

    def raw(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run one statement on the database directly, committed; ``?`` placeholders."""
        if self.database_url is None:
            from deconfliction.store import DATABASE_FILE

            with sqlite3.connect(self.data_dir / DATABASE_FILE) as conn:
                return [tuple(row) for row in conn.execute(statement, params).fetchall()]
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as conn:
            cursor = conn.execute(statement.replace("?", "%s"), params)  # type: ignore[arg-type]
            return [tuple(row) for row in cursor.fetchall()] if cursor.description else []
