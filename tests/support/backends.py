"""Which store backend the servers and stores the tests start use, and their databases.

``DECONFLICTION_TEST_BACKEND=sqlite|postgres`` (default ``sqlite``; ``./run-tests`` runs the
suite once with each). With ``postgres``, every data directory a test hands to a server,
an in-process app, the CLI or ``store_at`` gets a PostgreSQL database of its own, created
on first use from the server named by ``DECONFLICTION_TEST_DATABASE_URL`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``; the user needs CREATEDB) and dropped
(``WITH (FORCE)``) after the test that created it, or at the end of the session for
module-scoped servers. The data directory itself stays a temporary directory (the TAK
PKI lives there). With ``sqlite``, nothing changes: the store is the file in it.

The store-level tests (``store_factory``) are parametrized over both backends whatever
this switch says (``tests/conftest.py``).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from deconfliction.store.postgres import redact_url

BACKEND_ENV = "DECONFLICTION_TEST_BACKEND"
BACKENDS = ("sqlite", "postgres")
TEST_DATABASE_URL_ENV = "DECONFLICTION_TEST_DATABASE_URL"
DEFAULT_TEST_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
#: What the CLI and ``serve`` read the database URL from.
DATABASE_URL_ENV = "DECONFLICTION_DATABASE_URL"


class BackendUnavailable(RuntimeError):
    """The selected backend cannot be used (a bad switch value, PostgreSQL unreachable)."""


def backend() -> str:
    value = (os.environ.get(BACKEND_ENV) or "sqlite").strip().lower()
    if value not in BACKENDS:
        raise BackendUnavailable(f"{BACKEND_ENV}={value!r}: use one of {', '.join(BACKENDS)}")
    return value


def admin_url() -> str:
    return os.environ.get(TEST_DATABASE_URL_ENV) or DEFAULT_TEST_DATABASE_URL


def admin_connection(url: str | None = None) -> Any:
    """An autocommit connection to the admin database; ``BackendUnavailable`` if unreachable."""
    import psycopg

    url = url or admin_url()
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        raise BackendUnavailable(
            f"PostgreSQL is needed and is unreachable at {redact_url(url)}: {exc}\n"
            f"Start it (pg_ctlcluster <version> main start) or point {TEST_DATABASE_URL_ENV} "
            "at a server where this user may CREATE DATABASE."
        ) from None


def create_database() -> str:
    """A new, empty database on the test server; its URL."""
    from psycopg import sql

    base = admin_url()
    name = f"deconfliction_test_{secrets.token_hex(6)}"
    with admin_connection(base) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return urlsplit(base)._replace(path=f"/{name}").geturl()


def drop_database(url: str) -> None:
    from psycopg import sql

    name = urlsplit(url).path.lstrip("/")
    with admin_connection() as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


#: The database of each data directory (resolved path) in this process, in creation order.
_databases: dict[Path, str] = {}


def database_url(data_dir: Path) -> str | None:
    """The database URL for ``data_dir`` on the selected backend: ``None`` on SQLite (the
    file in the directory), else the directory's PostgreSQL database, created on first use."""
    if backend() == "sqlite":
        return None
    key = Path(data_dir).resolve()
    url = _databases.get(key)
    if url is None:
        url = _databases[key] = create_database()
    return url


def env_for(data_dir: Path) -> dict[str, str]:
    """Environment for a process (``serve``, the CLI) working on ``data_dir``."""
    url = database_url(data_dir)
    return {DATABASE_URL_ENV: url} if url else {}


def created() -> set[Path]:
    return set(_databases)


def drop_created_since(before: set[Path]) -> None:
    """Drop the databases created since ``created()`` returned ``before``."""
    for key in [k for k in _databases if k not in before]:
        drop_database(_databases.pop(key))


def drop_all() -> list[str]:
    """Drop every database still registered; the (redacted) URLs of those that failed."""
    failed = []
    for key in list(_databases):
        url = _databases.pop(key)
        try:
            drop_database(url)
        except Exception:
            failed.append(redact_url(url))
    return failed
