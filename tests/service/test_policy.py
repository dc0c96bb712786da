"""Every endpoint has exactly one access rule (``service/policy.py``), and every route that
needs a token takes its caller through that rule. A new endpoint without a rule fails here."""

from __future__ import annotations

from collections.abc import Iterator
from unittest.mock import MagicMock

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount

from deconfliction.api.app import create_app
from deconfliction.api.deps import caller
from deconfliction.api.fastpath import CHECKS_PATH
from deconfliction.service import policy
from deconfliction.service.access import Principal
from deconfliction.service.errors import Forbidden

pytestmark = pytest.mark.unit

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}


def _app() -> FastAPI:
    # The routes and the OpenAPI document do not touch the use cases.
    return create_app(MagicMock(), load_on_startup=False)


def _routes(app: FastAPI) -> Iterator[tuple[str, str, object]]:
    """(method, path template, route context) of every route, included routers flattened,
    schema or not (the SSE stream, the UI, the docs)."""
    for context in iter_route_contexts(app.router.routes):
        for method in sorted(getattr(context, "methods", None) or ()):
            if method != "HEAD":
                yield method, context.path, context
    for route in app.router.routes:
        if isinstance(route, Mount):
            yield "GET", route.path, route


def _depends_on_caller(context: object) -> bool:
    dependant = getattr(context, "dependant", None)
    stack = [dependant] if dependant is not None else []
    while stack:
        d = stack.pop()
        if d.call is caller:
            return True
        stack.extend(d.dependencies)
    return False


def test_every_operation_of_the_openapi_document_has_a_rule() -> None:
    document = _app().openapi()
    missing = [
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method in operations
        if method in HTTP_METHODS and policy.rule_for(method.upper(), path) is None
    ]
    assert not missing, f"endpoints without an access rule in service/policy.py: {missing}"


def test_every_route_has_a_rule_and_non_public_ones_go_through_it() -> None:
    app = _app()
    seen = set()
    for method, path, context in _routes(app):
        rule = policy.rule_for(method, path)
        assert rule is not None, f"{method} {path} has no rule in service/policy.py"
        seen.add((method, path))
        if not rule.public and path != CHECKS_PATH:
            assert _depends_on_caller(context), f"{method} {path} does not take Caller"
    # The fast path serves POST /v1/checks ahead of the framework; it authorizes itself.
    assert ("POST", CHECKS_PATH) in seen
    # No stale rules: every rule names a route that exists.
    stale = set(policy.RULES) - seen
    assert not stale, f"rules for endpoints that no longer exist: {sorted(stale)}"


def test_openapi_security_matches_the_rules() -> None:
    """The document tells clients which operations need a token, as the rules say."""
    document = _app().openapi()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method not in HTTP_METHODS:
                continue
            rule = policy.rule_for(method.upper(), path)
            assert rule is not None
            assert ("security" in operation) == (not rule.public), f"{method} {path}"


def test_a_role_outside_the_rule_is_refused_and_an_unknown_endpoint_is_refused() -> None:
    op = Principal("t", "operator", "u", "p")
    admin = Principal("a", "admin", None, None)
    assert policy.authorize(admin, "POST", "/v1/tokens") is admin
    for method, path in (("POST", "/v1/tokens"), ("POST", "/v1/reports"), ("POST", "/v1/assets")):
        try:
            policy.authorize(op, method, path)
        except Forbidden as exc:
            assert path in str(exc)
        else:
            raise AssertionError(f"an operator passed {method} {path}")
    try:
        policy.authorize(admin, "GET", "/v1/not-a-rule")
    except Forbidden as exc:
        assert "no access rule" in str(exc)
    else:
        raise AssertionError("an endpoint without a rule was allowed")
    # HEAD follows GET.
    assert policy.rule_for("HEAD", "/v1/health") is policy.rule_for("GET", "/v1/health")
