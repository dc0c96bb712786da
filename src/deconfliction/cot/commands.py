"""Commands a TAK user types into GeoChat.

``ACK <code>``, ``BRIEFED <code>`` and ``OURS <code>`` answer a notification;
``CHECK <lat> <lon> [mobility] [feature…]`` or ``CHECK <MGRS> [mobility]
[feature…]`` runs a check. Verbs and words are case-insensitive; an MGRS
reference may be written with spaces (``37U DB 12345 67890``). Optional extras
in a CHECK: ``certain`` or ``probable`` (the default), and a CEP as ``<n>m``
(``CHECK 48.85 2.35 200m wheeled radar``). Mobility and feature words must be
in :func:`deconfliction.domain.vocabulary.current`; anything else is a
:class:`ChatCommandError` that names the token, in words an operator can act on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from deconfliction.cot.errors import ChatCommandError
from deconfliction.domain import geo, limits, vocabulary
from deconfliction.domain.errors import DomainError
from deconfliction.domain.model import Observation, Observed

MAX_COMMAND_CHARS = 1000
MAX_CEP_M = limits.MAX_CEP_M
AnswerVerb = Literal["ACK", "BRIEFED", "OURS"]
Response = Literal["acknowledged", "briefed", "confirmed_ours"]
RESPONSES: dict[str, Response] = {
    "ACK": "acknowledged",
    "BRIEFED": "briefed",
    "OURS": "confirmed_ours",
}
USAGE = (
    "send ACK <code>, BRIEFED <code>, OURS <code>, "
    "or CHECK <lat> <lon> [mobility] [feature…] (or CHECK <MGRS> …)"
)
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$")
_NUMBER = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$")
_CEP = re.compile(r"^([0-9]+(?:\.[0-9]+)?)m$", re.IGNORECASE)
_MGRS = re.compile(r"^(?:[0-9]{1,2}[C-HJ-NP-X]|[ABYZ])[A-HJ-NP-Z]{2}(?:[0-9]{2}){0,5}$")


@dataclass(frozen=True, slots=True)
class AnswerCommand:
    """An answer to the notification with this code."""

    verb: AnswerVerb
    code: str

    @property
    def response(self) -> Response:
        return RESPONSES[self.verb]


@dataclass(frozen=True, slots=True)
class CheckCommand:
    """A check at a position; ``cep_m`` is ``None`` when the user gave none."""

    position: geo.GeoPoint
    mobility: str | None = None
    features: tuple[str, ...] = ()
    certainty: Literal["probable", "certain"] = "probable"
    cep_m: float | None = None
    #: The MGRS reference as typed (spaces removed), when the position was one.
    mgrs: str | None = None

    def observation(
        self,
        unit_id: str,
        *,
        default_cep_m: float,
        time: datetime | None = None,
        note: str | None = None,
    ) -> Observation:
        """The check as the domain asks it, for ``unit_id``."""
        return Observation(
            unit_id=unit_id,
            time=time,
            position=self.position,
            cep_m=default_cep_m if self.cep_m is None else self.cep_m,
            observed=Observed(
                mobility=self.mobility, features=list(self.features), certainty=self.certainty
            ),
            note=note,
        )


ChatCommand = AnswerCommand | CheckCommand


def parse_chat_command(text: str) -> ChatCommand:
    """The command in a chat message, or :class:`ChatCommandError` naming what is wrong."""
    if len(text) > MAX_COMMAND_CHARS:
        raise ChatCommandError(text[:20], f"message too long for a command; {USAGE}")
    tokens = text.split()
    if not tokens:
        raise ChatCommandError("", f"empty message; {USAGE}")
    verb = tokens[0].upper()
    if verb in RESPONSES:
        return _answer(verb, tokens)
    if verb == "CHECK":
        return _check(tokens[1:])
    raise ChatCommandError(tokens[0], f"unknown command {tokens[0]!r}; {USAGE}")


def _answer(verb: str, tokens: list[str]) -> AnswerCommand:
    if len(tokens) < 2:
        raise ChatCommandError(tokens[0], f"{verb} needs the notification's code: {verb} <code>")
    code = tokens[1]
    if not _CODE.match(code):
        raise ChatCommandError(code, f"{code!r} is not a notification code")
    if len(tokens) > 2:
        raise ChatCommandError(tokens[2], f"unexpected {tokens[2]!r} after {verb} {code}")
    answer_verb: AnswerVerb = "ACK" if verb == "ACK" else "BRIEFED" if verb == "BRIEFED" else "OURS"
    return AnswerCommand(answer_verb, code)


def _check(args: list[str]) -> CheckCommand:
    if not args:
        raise ChatCommandError("CHECK", "CHECK needs a position: CHECK <lat> <lon> or CHECK <MGRS>")
    position, rest, mgrs = _position(args)
    vocab = vocabulary.current()
    mobility: str | None = None
    features: list[str] = []
    certainty: Literal["probable", "certain"] = "probable"
    cep_m: float | None = None
    for token in rest:
        word = token.strip(",;").lower().replace("-", "_")
        cep = _CEP.match(word)
        if word in ("certain", "probable"):
            certainty = "certain" if word == "certain" else "probable"
        elif cep:
            if cep_m is not None:
                raise ChatCommandError(token, f"a second CEP {token!r}: give one, as <metres>m")
            cep_m = float(cep.group(1))
            if cep_m > MAX_CEP_M:
                raise ChatCommandError(token, f"CEP {token!r} is over {MAX_CEP_M:g} m")
        elif word in vocab.mobility:
            if mobility is not None and mobility != word:
                raise ChatCommandError(
                    token, f"two mobilities, {mobility!r} and {word!r}: give at most one"
                )
            mobility = word
        elif word in vocab.features:
            if word not in features:
                features.append(word)
        elif _NUMBER.match(word):
            raise ChatCommandError(
                token,
                f"unexpected number {token!r}: a position is <lat> <lon> or one MGRS reference "
                "(with an even number of digits), a CEP is <metres>m",
            )
        else:
            raise ChatCommandError(
                token,
                f"unknown word {token!r}: not a mobility ({', '.join(sorted(vocab.mobility))}) "
                f"or a feature ({', '.join(sorted(vocab.features))})",
            )
    if len(features) > 32:
        raise ChatCommandError(rest[-1], "at most 32 features")
    return CheckCommand(position, mobility, tuple(features), certainty, cep_m, mgrs)


def _position(args: list[str]) -> tuple[geo.GeoPoint, list[str], str | None]:
    first = args[0].rstrip(",")
    if "," in first and all(_NUMBER.match(part) for part in first.split(",", 1)):
        lat_text, lon_text = first.split(",", 1)
        return _lat_lon(lat_text, lon_text, args[0]), args[1:], None
    if _NUMBER.match(first):
        if len(args) < 2 or not _NUMBER.match(args[1].rstrip(",")):
            got = args[1] if len(args) > 1 else "nothing"
            raise ChatCommandError(
                args[1] if len(args) > 1 else first,
                f"expected a longitude after latitude {first}, got {got!r}",
            )
        return _lat_lon(first, args[1].rstrip(","), f"{args[0]} {args[1]}"), args[2:], None
    for count in range(min(4, len(args)), 0, -1):
        reference = "".join(args[:count]).upper()
        if _MGRS.match(reference):
            try:
                return geo.point_from_mgrs(reference), args[count:], reference
            except DomainError as exc:
                raise ChatCommandError(" ".join(args[:count]), exc.message) from None
    raise ChatCommandError(
        args[0], f"{args[0]!r} is not a position: expected <lat> <lon> or an MGRS reference"
    )


def _lat_lon(lat_text: str, lon_text: str, token: str) -> geo.GeoPoint:
    try:
        lat, lon = geo.check_lat_lon(float(lat_text), float(lon_text))
    except DomainError as exc:
        which = exc.field.rsplit(".", 1)[-1]
        raise ChatCommandError(token, f"{token!r}: {which} {exc.message}") from None
    return geo.GeoPoint(lat, lon)
