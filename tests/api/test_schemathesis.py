"""schemathesis against the real server's OpenAPI document, with party C's valid tokens,
a wrong token and none: no 5xx, and no response (body or header) carries party B's
non-releasable asset, movement, area or site. Bounded for CI: a few examples per
operation (``DECONFLICTION_SCHEMATHESIS_EXAMPLES``, default 6)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.support.leak_world import SECRET_TYPE, SECRETS, World, build_world
from tests.support.live import Server

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("DECONFLICTION_SCHEMATHESIS_EXAMPLES", "6"))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("schemathesis") / "data"
    server = Server(data_dir).start()
    try:
        yield build_world(server, data_dir)
    finally:
        server.stop()


def _operations(world: World) -> list[Any]:
    schema = schemathesis.openapi.from_url(world.server.url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    # The live stream never ends by design (tests/system/test_leaks.py reads it).
    return [op for op in operations if not op.path.endswith("/notifications/stream")]


_PUBLIC = {"/v1/health", "/v1/version", "/v1/ready"}


def _call_as_everyone(case: Any, world: World) -> None:
    callers = {"operator C": world.op_c, "coordinator C": world.coord_c, "wrong": "nonsense"}
    for who, token in (*callers.items(), ("no token", None)):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = case.call(base_url=world.server.url, headers=headers, timeout=10)
        where = f"{case.method} {case.formatted_path} as {who}"
        assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:300]}"
        text = response.text + repr(dict(response.headers))
        # What the caller sent may come back in an error message: that is no leak.
        sent = repr(case.path_parameters) + repr(case.query) + repr(case.body)
        leaked = [s for s in SECRETS if s in text and s not in sent]
        if "/equipment-types" not in case.formatted_path and SECRET_TYPE["name"] in text:
            leaked.append("the type name")
        assert not leaked, f"{where}: {leaked}"
        if who in ("wrong", "no token") and case.path not in _PUBLIC:
            assert response.status_code == 401, f"{where}: {response.status_code}"


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_5xx_and_no_leak_with_and_without_tokens(world: World, mode: GenerationMode) -> None:
    operations = _operations(world)
    assert len(operations) >= 40  # the whole document, not a part of it
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            _call_as_everyone(case, world)

        try:
            run()
        except Unsatisfiable:
            # Nothing to break: no parameters and no body (GET /v1/health, …).
            assert mode is GenerationMode.NEGATIVE, operation.path
