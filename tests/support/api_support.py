"""The app in-process (no sockets) over a real store: the SQLite file in a temporary
directory, or on the postgres pass its own PostgreSQL database (``tests/support/backends.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient

from deconfliction.api.app import create_asgi
from deconfliction.service import auth
from deconfliction.service.config import Settings
from deconfliction.usecases import UseCases
from tests.support import backends
from tests.support.world import Tokens, seed


@dataclass
class Api:
    client: TestClient
    uc: UseCases
    tokens: Tokens

    def as_(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


@contextmanager
def running_api(data_dir: Path, **settings: object) -> Iterator[Api]:
    settings.setdefault("database_url", backends.database_url(data_dir))
    uc = UseCases.open(Settings(data_dir=data_dir, **settings))  # type: ignore[arg-type]
    store = uc.service.store
    admin, _ = auth.issue(store, "admin", None, None)
    with TestClient(create_asgi(uc)) as client:
        assert uc.service.wait_ready(10)
        seed(client, admin)
        tokens = Tokens(
            admin=admin,
            coord_a=auth.issue(store, "coordinator", "a-cell", None)[0],
            op_a=auth.issue(store, "operator", "a-drones", None)[0],
            coord_b=auth.issue(store, "coordinator", "b-team", None)[0],
            op_b=auth.issue(store, "operator", "b-team", None)[0],
        )
        yield Api(client, uc, tokens)
