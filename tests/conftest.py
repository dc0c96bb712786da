"""Shared test fixtures, kept minimal: most tests build what they need in place."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from deconfliction.store.postgres import redact_url
from tests.support import backends
from tests.support.clock import FIXED_NOW
from tests.support.server_fixtures import (  # noqa: F401  (fixtures: the real server and its worlds)
    clocked,
    data_dir,
    server,
    server_env,
    tokens,
    world,
)
from tests.support.stores import StoreFactory, with_pg_options


@pytest.fixture
def now() -> datetime:
    """The one fixed time (``tests/support/clock.py``), so that tests never depend on when
    they run."""
    return FIXED_NOW


# -- the backend of the whole suite ---------------------------------------------

#: ``DECONFLICTION_TEST_BACKEND=sqlite|postgres`` (default sqlite): the backend of every
#: server, in-process app, CLI run and ``store_at`` the tests start (``tests/support/backends.py``).
#: ``./run-tests`` runs the suite once with each.
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
    _require_one_kind(items)
    _leave_store_tests_to_the_sqlite_pass(config, items)


def _leave_store_tests_to_the_sqlite_pass(config: pytest.Config, items: list[pytest.Item]) -> None:
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


# -- every test says what kind it is (tests/README.md) ---------------------------

KINDS = ("unit", "integration", "browser", "interop")


def _require_one_kind(items: list[pytest.Item]) -> None:
    """A test file without exactly one kind marker is a collection error, not a test that a
    ``-m unit`` run silently leaves out."""
    wrong = sorted(
        {
            item.nodeid.split("::")[0]
            for item in items
            if sum(1 for kind in KINDS if item.get_closest_marker(kind)) != 1
        }
    )
    if wrong:
        raise pytest.UsageError(
            "every test file needs exactly one of the markers "
            f"{', '.join(KINDS)} (pytestmark = pytest.mark.<kind>): {', '.join(wrong)}"
        )
