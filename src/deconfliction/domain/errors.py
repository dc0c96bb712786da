"""Errors raised by the domain. Each names the field and the offending value."""

from __future__ import annotations

from typing import Any


class DomainError(ValueError):
    """A rule of the domain was broken by an input; ``field`` names where."""

    code = "invalid"

    def __init__(self, field: str, message: str, value: Any = None) -> None:
        self.field = field
        self.value = value
        self.message = message
        super().__init__(f"{field}: {message}")


class UnknownWordError(DomainError):
    """A word outside the controlled recognition vocabulary."""

    code = "unknown_word"
