"""Storage: the current state and the append-only event log behind the service.

``open_store`` picks the backend from the configuration: the embedded SQLite
file in the data directory by default, or the database named by a URL
(``sqlite:///file`` or ``postgresql://user@host:port/database``).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from deconfliction.store.base import (
    OBJECT_KINDS,
    REPORT_FIELDS,
    TOKEN_ROLES,
    CheckRecord,
    Durability,
    Event,
    ObjectKind,
    Store,
    StoredObject,
    TokenRecord,
    TokenRole,
)
from deconfliction.store.errors import AlreadyExists, NotFound, StoreError, VersionConflict
from deconfliction.store.postgres import PostgresStore
from deconfliction.store.sqlite import DATABASE_FILE, SQLiteStore

__all__ = [
    "DATABASE_FILE",
    "OBJECT_KINDS",
    "REPORT_FIELDS",
    "TOKEN_ROLES",
    "AlreadyExists",
    "CheckRecord",
    "Durability",
    "Event",
    "NotFound",
    "ObjectKind",
    "PostgresStore",
    "SQLiteStore",
    "Store",
    "StoreError",
    "StoredObject",
    "TokenRecord",
    "TokenRole",
    "VersionConflict",
    "database_path",
    "open_store",
    "store_location",
]

#: The data directory when none is given (the CLI's ``--data-dir`` default).
DEFAULT_DATA_DIR = Path("data")


def database_path(data_dir: Path | None, database_url: str | None) -> Path | None:
    """The SQLite file the configuration names, or ``None`` for a server database.

    ``sqlite:///relative/file`` and ``sqlite:////absolute/file`` name a file
    (as in SQLAlchemy); without a URL it is ``DATABASE_FILE`` in ``data_dir``.
    """
    if not database_url:
        return (data_dir or DEFAULT_DATA_DIR) / DATABASE_FILE
    parts = urlsplit(database_url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        if parts.netloc or not parts.path.startswith("/") or len(parts.path) < 2:
            raise ValueError(
                f"bad SQLite URL {database_url!r}: use sqlite:///relative/path "
                "or sqlite:////absolute/path"
            )
        return Path(unquote(parts.path[1:]))
    if scheme in ("postgresql", "postgres") or scheme.startswith("postgresql+"):
        return None
    raise ValueError(
        f"unsupported database URL scheme {parts.scheme!r}: use sqlite:/// or postgresql://"
    )


def store_location(data_dir: Path | None, database_url: str | None) -> str:
    """Where a store is, as anchors record it: ``sqlite:`` and the absolute path of its
    file, or the PostgreSQL URL without its password (``docs/design/audit.md``)."""
    path = database_path(data_dir, database_url)
    if path is None:
        from deconfliction.store.postgres import redact_url

        assert database_url is not None
        return redact_url(database_url)
    return f"sqlite:{path.resolve()}"


def open_store(
    data_dir: Path | None = None,
    database_url: str | None = None,
    *,
    durability: Durability = "normal",
    migrate: bool = True,
    sign: bool = False,
    long_running: bool = False,
) -> Store:
    """The configured store, its schema brought up to date unless ``migrate`` is false.

    ``postgresql://`` (also ``postgres://`` and ``postgresql+psycopg://``) URLs
    open a ``PostgresStore``; the data directory is then not used by the store.
    With ``sign`` (as ``serve`` and the CLI open it), the store signs audit entries
    with the node's key, ``audit_ed25519.pem`` in the data directory (created there,
    0600, on first use). ``long_running`` (``serve``): SQLite checkpoints its log from
    a background thread, not inside the commits of writes (``store/checkpoint.py``).
    """
    path = database_path(data_dir, database_url)
    store: Store
    if path is None:
        assert database_url is not None
        store = PostgresStore(database_url, durability=durability)
    else:
        store = SQLiteStore(path, durability=durability, background_checkpoints=long_running)
    if migrate:
        try:
            store.migrate()
            if sign:
                # The node's audit key lives in the data directory (created on first use).
                from deconfliction.audit.keys import NodeKey

                store.use_audit_key(NodeKey.load_or_create(data_dir or DEFAULT_DATA_DIR))
        except BaseException:
            store.close()
            raise
    return store
