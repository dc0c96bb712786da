"""Errors the service answers with; the API turns each into the contract's error shape."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """A request the service refuses: HTTP ``status``, stable ``code``, readable ``message``."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        code: str | None = None,
        treat_as: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code
        self.treat_as = treat_as
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        if self.treat_as is not None:
            error["treat_as"] = self.treat_as
        return {"error": error}


class InvalidInput(ServiceError):
    status = 422
    code = "invalid"


class InvalidJson(ServiceError):
    status = 400
    code = "invalid_json"


class Unauthenticated(ServiceError):
    status = 401
    code = "unauthenticated"

    def __init__(self, message: str = "a valid bearer token is required") -> None:
        super().__init__(message, headers={"WWW-Authenticate": 'Bearer realm="deconfliction"'})


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class TooLarge(ServiceError):
    status = 413
    code = "body_too_large"


class RateLimited(ServiceError):
    """The answer would be incomplete: the client treats the point as HOLD."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(
            message, treat_as="HOLD", headers={"Retry-After": str(max(1, retry_after_s))}
        )


class Unavailable(ServiceError):
    """The answer would be incomplete: the client treats the point as HOLD."""

    status = 503
    code = "unavailable"

    def __init__(self, message: str, *, code: str = "unavailable") -> None:
        super().__init__(message, code=code, treat_as="HOLD", headers={"Retry-After": "1"})
