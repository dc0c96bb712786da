"""Every error in the contract's shape: ``{"error": {"code", "message", "field"?}}``."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from deconfliction.service.errors import ServiceError
from deconfliction.service.validation import dotted

log = logging.getLogger("deconfliction.api")

_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    503: "unavailable",
}


def error_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> Response:
        return error_response(exc.status, exc.body(), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = list(exc.errors())
        first = errors[0] if errors else {}
        loc = [p for p in first.get("loc", ()) if isinstance(p, str | int)]
        if loc and loc[0] in ("query", "path", "body", "header"):
            loc = loc[1:]
        field = dotted(loc) or None
        message = str(first.get("msg", "invalid input"))
        if "input" in first:
            message += f", got {first['input']!r}"
        error: dict[str, Any] = {"code": "invalid", "message": f"{field}: {message}"}
        if field:
            error["field"] = field
        return error_response(422, {"error": error})

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = _CODES.get(exc.status_code, "error")
        if exc.status_code == 404:
            message = f"no such resource: {request.url.path}"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        else:
            message = str(exc.detail)
        return error_response(
            exc.status_code,
            {"error": {"code": code, "message": message}},
            dict(exc.headers) if exc.headers else None,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        error: dict[str, Any] = {
            "code": "internal",
            "message": "an unexpected error occurred; the server log has the details",
        }
        if request.url.path.startswith("/v1/checks"):
            error["treat_as"] = "HOLD"
        return error_response(500, {"error": error})
