"""Request-scoped helpers: the use cases of the app, the caller, the raw JSON body."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from deconfliction.service import policy
from deconfliction.service.access import Principal
from deconfliction.service.validation import parse_json
from deconfliction.usecases import UseCases


def usecases(request: Request) -> UseCases:
    uc: UseCases = request.app.state.usecases
    return uc


async def principal(request: Request) -> Principal:
    """The token's holder; 401 (with ``WWW-Authenticate: Bearer``) otherwise."""
    auth = usecases(request).auth
    return await run_in_threadpool(auth.from_header, request.headers.get("authorization"))


def route_template(request: Request) -> str:
    """The matched route's path template (``/v1/assets/{obj_id}``), as the policy keys it."""
    route = request.scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(template) if template else request.url.path


async def caller(request: Request) -> Principal:
    """The token's holder, admitted by the endpoint's rule (``service/policy.py``):
    401 without a valid token, 403 for a role the rule does not list."""
    who = await principal(request)
    return policy.authorize(who, request.method, route_template(request))


#: What every route that needs a token takes: the caller, already through the policy.
Caller = Annotated[Principal, Depends(caller)]


async def json_body(request: Request) -> Any:
    """The body parsed strictly (orjson: no NaN, no Infinity); 400 ``invalid_json``."""
    return parse_json(await request.body())
