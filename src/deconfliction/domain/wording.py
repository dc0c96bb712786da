"""Words a tired operator reads in two seconds: distances, durations, speeds, times."""

from __future__ import annotations

import math
import re
import time
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def distance(metres: float) -> str:
    if metres < 1000:
        return f"{max(0, round(metres))} m"
    if metres < 10_000:
        return f"{metres / 1000:.1f} km"
    return f"{round(metres / 1000)} km"


def duration(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 90:
        return f"{round(seconds)} s"
    minutes = seconds / 60
    if minutes < 90:
        return f"{round(minutes)} min"
    hours = minutes / 60
    if hours < 48:
        return f"{hours:.1f} h".replace(".0 h", " h")
    return f"{round(hours / 24)} days"


def speed(mps: float) -> str:
    return f"{round(mps * 3.6)} km/h"


def clock(epoch_s: float) -> str:
    t = time.gmtime(epoch_s)
    return f"{t.tm_hour:02d}:{t.tm_min:02d}Z"


def rfc3339(epoch_s: float) -> str:
    """RFC 3339 in UTC, to the second, rounded down (an earlier valid_until is the safe side)."""
    t = time.gmtime(math.floor(epoch_s))
    return (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}Z"
    )


#: Letters an acronym is read with a vowel sound at its start ("an AO", "an MBT", "a PA").
_VOWEL_SOUND_LETTERS = frozenset("AEFHILMNORSX")


def article(noun: str) -> str:
    """ "a" or "an" for ``noun`` as it is said: "an APC", "an AO type", "a PA", "a drone",
    "an MBT", "a HOLD", "a UAV". Capitals of two letters, or with no vowel, are spelt
    letter by letter; other capitals are read as a word."""
    word = noun.strip().split(" ", 1)[0] if noun.strip() else ""
    if not word:
        return "a"
    letters = "".join(c for c in word if c.isalpha())
    if len(letters) > 1 and letters.isupper():
        if len(letters) <= 2 or not set(letters) & set("AEIOU"):  # AO, PA, MBT: spelt
            return "an" if letters[0] in _VOWEL_SOUND_LETTERS else "a"
        if letters[0] == "U":  # UAV: "you-ay-vee"
            return "a"
    if word[:1].isdigit():  # "an 8-wheeler", "an 11 t truck"
        digits = word[: len(word) - len(word.lstrip("0123456789"))]
        return "an" if digits.startswith("8") or digits in ("11", "18") else "a"
    return "an" if word[:1].lower() in ("a", "e", "i", "o", "u") else "a"


def with_article(noun: str) -> str:
    return f"{article(noun)} {noun}"


def relative(seconds: float) -> str:
    """How far an instant is from now, for a person: "in 29 min", "2 min ago", "now"
    (within 30 s either way)."""
    if abs(seconds) < 30:
        return "now"
    return f"in {duration(seconds)}" if seconds > 0 else f"{duration(seconds)} ago"


def _local(epoch_s: float, tz: tzinfo) -> tuple[str, str]:
    local = datetime.fromtimestamp(epoch_s, tz)
    return f"{local.hour:02d}:{local.minute:02d}", local.tzname() or ""


def when(epoch_s: float, now_s: float, tz: tzinfo | None = None) -> str:
    """An instant as a tired operator reads it: "17:24Z (in 29 min)"; the date in front
    when it is not within 20 h ("26 Nov 17:24Z (in 2 days)"); with a unit's own time zone
    "17:24Z (18:24 CET, in 29 min)". Rounded down to the minute: an earlier deadline or
    entry is the safe side."""
    t = time.gmtime(math.floor(epoch_s))
    day = f"{t.tm_mday} {_MONTHS[t.tm_mon - 1]} " if abs(epoch_s - now_s) >= 20 * 3600 else ""
    inside = relative(epoch_s - now_s)
    if tz is not None:
        hhmm, name = _local(math.floor(epoch_s), tz)
        inside = f"{hhmm} {name}".rstrip() + f", {inside}"
    return f"{day}{t.tm_hour:02d}:{t.tm_min:02d}Z ({inside})"


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

#: A sentence's end doubled ("like..", "cue. .", "reached.;"), but not an ellipsis "…".
_DOUBLED = re.compile(r"([.!?;:,])(?:\s*[.;:,])+")


def tidy(text: str) -> str:
    """One punctuation mark where two met ("like.." → "like."), single spaces."""
    text = _DOUBLED.sub(r"\1", text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def time_zone(name: str | None) -> tzinfo | None:
    """The IANA zone of that name (``Europe/Berlin``), or None when unset or unknown (a
    text then shows UTC alone)."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def capitalised(text: str) -> str:
    """The first letter upper-case, the rest as written ("an APC" → "An APC")."""
    return text[:1].upper() + text[1:]
