"""Turn JSON bytes and pydantic errors into the contract's error shape.

Bodies are parsed with orjson, which rejects bare ``NaN`` and ``Infinity``
(Python's ``json`` accepts them). A pydantic error becomes a dotted ``field``
(``position.lat``, ``reports[3].time``) and a message that names the value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from deconfliction.domain.errors import DomainError
from deconfliction.service.errors import InvalidInput, InvalidJson

M = TypeVar("M", bound=BaseModel)

_MAX_VALUE_CHARS = 80


def parse_json(body: bytes) -> Any:
    """Strict JSON: no NaN/Infinity, no trailing garbage, UTF-8 only."""
    if not body.strip():
        raise InvalidJson("the request body is empty; a JSON document is required")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidJson(f"malformed JSON: {exc}") from None


def dotted(loc: Sequence[str | int], prefix: str = "") -> str:
    """``("reports", 3, "position")`` → ``reports[3].position``."""
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def _show(value: Any) -> str:
    try:
        text = orjson.dumps(value).decode()
    except TypeError:
        text = repr(value)
    if len(text) > _MAX_VALUE_CHARS:
        text = text[: _MAX_VALUE_CHARS - 3] + "..."
    return text


def describe(exc: ValidationError, prefix: str = "") -> list[tuple[str, str]]:
    """(field, message) for every error of a pydantic validation."""
    out: list[tuple[str, str]] = []
    for err in exc.errors(include_url=False):
        loc = [p for p in err["loc"] if isinstance(p, str | int)]
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, DomainError):
            # The domain names the field from its own point of view ("position.lat",
            # "geometry.coordinates"): keep the location pydantic knows, append the rest.
            tail = cause.field.split(".")[1:] if loc else cause.field.split(".")
            field = dotted([*loc, *tail], prefix)
            out.append((field, cause.message))
            continue
        field = dotted(loc, prefix)
        kind = err["type"]
        if kind == "missing":
            message = "is required"
        elif kind == "extra_forbidden":
            message = "is not a known field"
        else:
            message = err["msg"].removeprefix("Value error, ")
            message = f"{message}, got {_show(err.get('input'))}"
        out.append((field, message))
    return out


def invalid_from(exc: ValidationError, prefix: str = "") -> InvalidInput:
    problems = describe(exc, prefix)
    if not problems:
        return InvalidInput("invalid input")
    field, message = problems[0]
    text = f"{field}: {message}" if field else message
    if len(problems) > 1:
        text += f" (and {len(problems) - 1} more: " + "; ".join(
            f"{f}: {m}" for f, m in problems[1:6]
        )
        text += ", ...)" if len(problems) > 6 else ")"
    return InvalidInput(text, field=field or None)


def validate(model: type[M], data: Any, *, prefix: str = "", context: Any = None) -> M:
    """Validate ``data`` into ``model`` or raise :class:`InvalidInput` naming the field."""
    if not isinstance(data, dict):
        raise InvalidInput(
            f"expected a JSON object, got {type(data).__name__}: {_show(data)}",
            field=prefix or None,
        )
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise invalid_from(exc, prefix) from None
    except DomainError as exc:
        raise InvalidInput(exc.message, field=dotted(exc.field.split("."), prefix)) from None
