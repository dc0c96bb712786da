"""A notification's message as a person reads it, at the moment it is read (pure).

The stored ``message`` is a whole sentence an API reader can use alone: its times in
RFC 3339 UTC and the acknowledgement rule at its end. A person reads it later, on a screen
or in a GeoChat message: there every time becomes ``17:24Z (in 29 min)`` (in the unit's own
time zone too, where it has one), relative to *that* moment, and the acknowledgement rule
is said where the channel says it (once per web screen; once per GeoChat message, by
``cot/notices.py``). Rendering at reading time also mends messages stored by older versions
(microseconds, the rule twice, doubled punctuation). ``web/js/when.js`` does the same in the
browser, live; ``tests/web/test_texts.py`` holds the two to the same output.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any

from deconfliction.domain import wording
from deconfliction.domain.notifications import ACKNOWLEDGEMENT_MEANS

#: An RFC 3339 instant inside a text (with or without seconds, fractions, offset).
INSTANT = re.compile(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})")
#: The rule as older versions also wrote it, shortened.
_RULES = (ACKNOWLEDGEMENT_MEANS, "Acknowledgement means received, never approved.")


def instant(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def when(text: str | None, now: datetime, tz: tzinfo | None = None) -> str:
    """One stored instant as ``17:24Z (in 29 min)``; what is not an instant, unchanged."""
    if not text:
        return ""
    at = instant(text)
    if at is None:
        return text
    return wording.when(at.timestamp(), now.timestamp(), tz)


def without_rule(message: str) -> str:
    """The message without the acknowledgement rule (the channel says it once)."""
    for rule in _RULES:
        message = message.replace(rule, " ")
    return wording.tidy(message)


def humanise(message: str | None, now: datetime, tz: tzinfo | None = None) -> str:
    """The message as read at ``now``: the rule taken out, every instant a clock time
    with how far it is from now, punctuation mended."""
    if not message:
        return ""
    text = without_rule(message)
    return wording.tidy(INSTANT.sub(lambda m: when(m.group(0), now, tz), text))


def deadline_line(view: Mapping[str, Any], now: datetime, tz: tzinfo | None = None) -> str:
    """A web card's deadline, while it waits for an answer: "answer by 17:24Z (in 29 min)",
    or "OVERDUE since …" once passed."""
    deadline = view.get("deadline")
    at = instant(str(deadline)) if deadline else None
    if at is None or view.get("response") is not None:
        return ""
    verb = "answer by" if at >= now else "OVERDUE since"
    return f"{verb} {when(str(deadline), now, tz)}"


def web_text(view: Mapping[str, Any], now: datetime, tz: tzinfo | None = None) -> str:
    """What a web card says in words: its deadline and its message (``web/js/inbox.js``;
    the acknowledgement rule is once per screen, not on the card)."""
    lines = (deadline_line(view, now, tz), humanise(view.get("message"), now, tz))
    return "\n".join(line for line in lines if line)
