"""Request-scoped helpers: the use cases of the app, the caller, the raw JSON body."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from deconfliction.service.access import Principal
from deconfliction.service.usecases import UseCases
from deconfliction.service.validation import parse_json


def usecases(request: Request) -> UseCases:
    uc: UseCases = request.app.state.usecases
    return uc


async def principal(request: Request) -> Principal:
    """The token's holder; 401 (with ``WWW-Authenticate: Bearer``) otherwise."""
    auth = usecases(request).auth
    return await run_in_threadpool(auth.from_header, request.headers.get("authorization"))


async def json_body(request: Request) -> Any:
    """The body parsed strictly (orjson: no NaN, no Infinity); 400 ``invalid_json``."""
    return parse_json(await request.body())
