"""The stored messages of the notification causes, one function each (pure).

A stored message is a whole sentence an API reader or a webhook can use alone: times in
RFC 3339 UTC to the second (rounded down: an earlier deadline is the safe side), the
acknowledgement rule at its end. People read it through ``notice_text.humanise`` (times as
``17:24Z (in 29 min)``, the rule where the channel says it). The table of every cause's
text is in docs/design/notifications.md, "What each cause says".
"""

from __future__ import annotations

from datetime import datetime

from deconfliction.domain import wording
from deconfliction.domain.notifications import ACKNOWLEDGEMENT_MEANS


def stamp(at: datetime | str) -> str:
    """An instant in a message: RFC 3339 UTC to the second."""
    if isinstance(at, str):
        at = datetime.fromisoformat(at.replace("Z", "+00:00"))
    return wording.rfc3339(at.timestamp())


def sentence(*parts: str) -> str:
    """Parts joined as sentences, one full stop each whatever the parts ended with
    (a cue "…rails behind the cab." no longer makes "cab..")."""
    return wording.tidy(" ".join(p.strip() for p in parts if p and p.strip()))


def arrival_message(
    who: str, verb: str, unit_name: str, entry: datetime, deadline: datetime
) -> str:
    """``announced_arrival``: who, from when, answer by when."""
    return sentence(
        f"{who} {verb} the area of {unit_name} from {stamp(entry)};",
        f"answer by {stamp(deadline)}.",
        ACKNOWLEDGEMENT_MEANS,
    )


def briefing_message(summary: str, deadline: datetime | str) -> str:
    """``recognition_briefing``: what the type looks like, answer ``briefed`` by when."""
    return sentence(
        f"Recognition briefing: {summary.rstrip('.')}.",
        f"Answer 'briefed' once your team knows what it looks like, by {stamp(deadline)}.",
        ACKNOWLEDGEMENT_MEANS,
    )


def cause_words(cause: str) -> str:
    """A cause as words with its article: "an announced arrival", "a hold on your asset"."""
    words = cause.replace("_", " ").replace("hold on", "HOLD on")
    return wording.with_article(words)


def escalation_message(unit_id: str, cause: str, deadline: str | None) -> str:
    """A level-1 ``escalation`` to a coordination cell."""
    by = f" by {stamp(deadline)}" if deadline else ""
    return sentence(
        f"ESCALATION: unit {unit_id} did not answer {cause_words(cause)}{by}.",
        "Make sure it is told and answers.",
        ACKNOWLEDGEMENT_MEANS,
    )


def out_of_band_message(contact: str, unit_id: str, cause: str, deadline: str | None = None) -> str:
    """A level-2 ``escalation``, to a party's out-of-band contact (``deadline``: the
    original's)."""
    due = f" due {stamp(deadline)}" if deadline else ""
    return sentence(
        f"OUT-OF-BAND ESCALATION to {contact}: unit {unit_id} did not answer "
        f"{cause_words(cause)}{due} and nobody answered the escalation.",
        ACKNOWLEDGEMENT_MEANS,
    )
