"""CRUD and listing for every registered kind (parties, units, equipment types, assets,
movements, areas, sites)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from deconfliction.api.deps import Caller, json_body, usecases
from deconfliction.api.schemas import ERRORS, Page
from deconfliction.api.serialize import json_response
from deconfliction.service.kinds import KINDS, Kind


def _body_doc(kind: Kind) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": f"#/components/schemas/{kind.model.__name__}"}
                }
            },
        }
    }


def _who_reads(kind: Kind) -> str:
    if kind.public:
        return "Readable by any authenticated token."
    if kind.releasable:
        return (
            "Visible to the owner party, to the parties `releasable_to` lists (or every party "
            'for `["*"]`) and to admins; anything else is a 404.'
        )
    return "Visible to its own party and to admins; anything else is a 404."


def _who_writes(kind: Kind) -> str:
    if kind.admin_only:
        return "Admin tokens only."
    return "Admin tokens, and coordinator tokens for their own party's objects."


def router_for(kind: Kind) -> APIRouter:
    router = APIRouter(prefix=f"/v1/{kind.path}", tags=[kind.path])
    name = kind.model.__name__
    noun = kind.noun

    @router.post(
        "",
        status_code=201,
        summary=f"Register a {noun}",
        description=f"{_who_writes(kind)} Answered 201 only once stored; every later check "
        "sees it. A duplicate id is a 409 `already_exists`.",
        responses={201: {"description": f"The stored {noun}."}, **ERRORS},
        openapi_extra=_body_doc(kind),
        operation_id=f"create_{kind.name}",
    )
    async def create(request: Request, who: Caller) -> Response:
        data = await json_body(request)
        doc = await run_in_threadpool(usecases(request).registry.create, who, kind, data)
        return json_response(doc, 201)

    @router.get(
        "",
        summary=f"List {kind.path}",
        description=f"{_who_reads(kind)} Keyset pagination by id: pass `next` as `after`.",
        response_model=Page,
        responses=ERRORS,
        operation_id=f"list_{kind.name}",
    )
    async def list_(
        request: Request,
        who: Caller,
        limit: Annotated[int | None, Query(description="1 to 1000; default 100")] = None,
        after: Annotated[str | None, Query(description="The `next` of the previous page")] = None,
    ) -> Response:
        page = await run_in_threadpool(usecases(request).registry.list, who, kind, limit, after)
        return json_response(page)

    @router.get(
        "/{obj_id}",
        summary=f"Read a {noun}",
        description=_who_reads(kind),
        responses={200: {"description": f"The {noun} ({name})."}, **ERRORS},
        operation_id=f"get_{kind.name}",
    )
    async def get(request: Request, obj_id: str, who: Caller) -> Response:
        doc = await run_in_threadpool(usecases(request).registry.get, who, kind, obj_id)
        return json_response(doc)

    @router.put(
        "/{obj_id}",
        summary=f"Replace a {noun}",
        description=f"{_who_writes(kind)} The body is the whole new {noun}; its id, if given, "
        "must be the path's.",
        responses={200: {"description": f"The stored {noun}."}, **ERRORS},
        openapi_extra=_body_doc(kind),
        operation_id=f"replace_{kind.name}",
    )
    async def replace(request: Request, obj_id: str, who: Caller) -> Response:
        data = await json_body(request)
        doc = await run_in_threadpool(usecases(request).registry.replace, who, kind, obj_id, data)
        return json_response(doc)

    @router.delete(
        "/{obj_id}",
        status_code=204,
        summary=f"Delete a {noun}",
        description=f"{_who_writes(kind)} 409 `in_use` while other objects still name it.",
        responses=ERRORS,
        operation_id=f"delete_{kind.name}",
    )
    async def delete(request: Request, obj_id: str, who: Caller) -> Response:
        await run_in_threadpool(usecases(request).registry.delete, who, kind, obj_id)
        return Response(status_code=204)

    return router


def routers() -> list[APIRouter]:
    return [router_for(kind) for kind in KINDS]
