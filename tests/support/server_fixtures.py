"""Fixtures that start the real server (a subprocess on a free port), and the worlds the
integration tests build on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.live import Server, issue
from tests.support.notification_world import World
from tests.support.world import Tokens, seed


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def server_env() -> dict[str, str]:
    """Environment of the ``server`` fixture's process; a module overrides it (e.g. to
    allow its loopback webhook endpoints)."""
    return {}


@pytest.fixture
def server(data_dir: Path, server_env: dict[str, str]) -> Iterator[Server]:
    srv = Server(data_dir, env=server_env)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def tokens(server: Server, data_dir: Path) -> Tokens:
    """The world seeded over HTTP, and a token per role."""
    admin = issue(data_dir, "admin")
    with server.client() as client:
        seed(client, admin)
    return Tokens(
        admin=admin,
        coord_a=issue(data_dir, "coordinator", "a-cell"),
        op_a=issue(data_dir, "operator", "a-drones"),
        coord_b=issue(data_dir, "coordinator", "b-team"),
        op_b=issue(data_dir, "operator", "b-team"),
    )


@pytest.fixture
def clocked(data_dir: Path) -> Iterator[Server]:
    """A server whose clock tests may move forward (the documented test hook)."""
    srv = Server(data_dir, env={"DECONFLICTION_TEST_CLOCK": "1"})
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def world(server: Server, data_dir: Path) -> Iterator[World]:
    """The notifications tests' world (``tests/support/notification_world.py``); a module
    with a world of its own (``test_leaks``) overrides it."""
    w = World(server, data_dir)
    yield w
    w.http.close()
