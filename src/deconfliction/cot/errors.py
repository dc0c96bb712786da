"""Errors of the Cursor-on-Target codec.

Every error names the place in the event that is wrong (``point.lat``,
``detail.track.speed``, ``stream``), in the domain's ``DomainError`` shape, so
that the gateway can count rejections by reason and an HTTP adapter can show
them like any other validation error. No parser traceback ever leaks out.
"""

from __future__ import annotations

from typing import Any

from deconfliction.domain.errors import DomainError


class CotError(DomainError):
    """An event (or a stream) that is not acceptable Cursor-on-Target."""

    code = "invalid_cot"

    def __init__(self, field: str, message: str, value: Any = None) -> None:
        super().__init__(field, message, value)


class CotTooLarge(CotError):
    """An event, frame or datagram over the size limit."""

    code = "cot_too_large"


class ChatCommandError(CotError):
    """A chat message that is not a command this service understands."""

    code = "invalid_chat_command"

    def __init__(self, token: str, message: str) -> None:
        super().__init__("chat", message, token)
        self.token = token


class HostileTypeError(ValueError):
    """A renderer was asked to emit a CoT type this service never emits.

    Not a :class:`CotError`: this is a bug on our side, not bad input, and must
    never be counted and dropped like a malformed event from a client.
    """

    def __init__(self, cot_type: str) -> None:
        super().__init__(
            f"refusing to emit CoT type {cot_type!r}: only friendly (a-f-*) and neutral (a-n-*) "
            "atoms are ever emitted"
        )
        self.cot_type = cot_type
