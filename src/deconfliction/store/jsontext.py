"""JSON at rest: compact UTF-8 text via orjson, the same bytes for the same document."""

from __future__ import annotations

from typing import Any

import orjson

from deconfliction.store.errors import StoreError


def dumps(value: Any) -> str:
    """Compact JSON text; ``StoreError`` if ``value`` is not JSON-serialisable."""
    try:
        return orjson.dumps(value).decode()
    except TypeError as exc:  # orjson.JSONEncodeError is a TypeError
        raise StoreError(f"not JSON-serialisable: {exc}") from exc


def loads(text: str | bytes) -> Any:
    return orjson.loads(text)
