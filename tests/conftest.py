"""Shared test fixtures, kept minimal: most tests build what they need in place."""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import pytest

from deconfliction.store.postgres import redact_url
from tests import backends

#: A fixed clock, so that tests never depend on when they run.
FIXED_NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def now() -> datetime:
    return FIXED_NOW


# -- the backend of the whole suite ---------------------------------------------

#: ``DECONFLICTION_TEST_BACKEND=sqlite|postgres`` (default sqlite): the backend of every
#: server, in-process app, CLI run and ``store_at`` the tests start (``tests/backends.py``).
#: ``./test`` runs the suite once with each.
TEST_BACKEND = backends.backend()


def pytest_report_header(config: pytest.Config) -> str:
    where = f" ({redact_url(backends.admin_url())})" if TEST_BACKEND == "postgres" else ""
    return f"store backend of servers and apps: {TEST_BACKEND}{where}"


def pytest_sessionstart(session: pytest.Session) -> None:
    """On the postgres pass, an unreachable server fails the run at once (never skips)."""
    if TEST_BACKEND != "postgres" or hasattr(session.config, "workerinput"):
        return
    try:
        backends.admin_connection().close()
    except backends.BackendUnavailable as exc:
        pytest.exit(
            f"{backends.BACKEND_ENV}=postgres: {exc}", returncode=pytest.ExitCode.USAGE_ERROR
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The postgres pass leaves out the store-level tests: they are parametrized over both
    backends (or are PostgreSQL-only) and all ran in the sqlite pass."""
    if TEST_BACKEND != "postgres":
        return
    both = {"backend", "store_factory", "pg_database_url", "pg_test_database"}
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        (dropped if both & set(getattr(item, "fixturenames", ())) else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session", autouse=True)
def _backend_databases_of_the_session() -> Iterator[None]:
    """Databases of module-scoped servers, dropped at the end of the session."""
    yield
    failed = backends.drop_all()
    assert not failed, f"could not drop test databases: {failed}"


@pytest.fixture(autouse=True)
def _backend_databases_of_the_test() -> Iterator[None]:
    """The databases a test's servers and apps used, dropped after it (and its fixtures)."""
    before = backends.created()
    yield
    backends.drop_created_since(before)


# -- store backends: every store test runs on SQLite and on PostgreSQL ---------

#: The server the PostgreSQL tests use. Each test session (each pytest-xdist
#: worker) creates a database of its own there (so the user needs CREATEDB) and
#: drops it at the end; each test gets a fresh schema in it, dropped after the test.
TEST_DATABASE_URL_ENV = backends.TEST_DATABASE_URL_ENV
DEFAULT_TEST_DATABASE_URL = backends.DEFAULT_TEST_DATABASE_URL


def _admin_connection(url: str) -> Any:
    try:
        return backends.admin_connection(url)
    except backends.BackendUnavailable as exc:
        pytest.fail(f"{exc}\n(needed by the postgres-parametrized tests)", pytrace=False)


def with_pg_options(url: str, *options: str) -> str:
    """``url`` with server settings (``-c name=value``) added to its ``options``."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query["options"] = " ".join(filter(None, [query.get("options", ""), *options]))
    return parts._replace(query=urlencode(query, quote_via=quote)).geturl()


@pytest.fixture(scope="session")
def pg_test_database() -> Iterator[str]:
    """The URL of a PostgreSQL database for this test session, dropped at its end."""
    from psycopg import sql

    admin_url = os.environ.get(TEST_DATABASE_URL_ENV) or DEFAULT_TEST_DATABASE_URL
    name = f"deconfliction_test_{secrets.token_hex(6)}"
    with _admin_connection(admin_url) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlsplit(admin_url)._replace(path=f"/{name}").geturl()
    finally:
        with _admin_connection(admin_url) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def pg_database_url(pg_test_database: str) -> Iterator[str]:
    """A URL whose sessions see only a fresh, empty schema (``search_path``), dropped
    after the test: the tables a store creates there are this test's alone."""
    from psycopg import sql

    schema = f"test_{secrets.token_hex(6)}"
    with _admin_connection(pg_test_database) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield with_pg_options(pg_test_database, f"-csearch_path={schema}")
    finally:
        with _admin_connection(pg_test_database) as admin:
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


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


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_factory(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[StoreFactory]:
    url = request.getfixturevalue("pg_database_url") if backend == "postgres" else None
    factory = StoreFactory(backend, tmp_path, url)
    yield factory
    for store in factory.opened:
        store.close()
