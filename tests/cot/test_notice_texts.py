"""Issue 24: every notification cause's text in both forms a person reads — the GeoChat
message (``cot/notices.notification_text``) and the web card's words
(``domain/notice_text.web_text``; ``web/js/when.js`` is held to the same output in
``tests/web/test_texts.py``): no instant in RFC 3339 form (let alone with fractions), every
time as ``HH:MMZ`` with how far it is, the acknowledgement rule exactly as it reads in every
GeoChat message and never on a web card (the inbox says it once per screen), correct
articles and no doubled punctuation."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from deconfliction.cot.notices import notification_text
from deconfliction.domain.notice_text import web_text
from deconfliction.domain.notifications import ACKNOWLEDGEMENT_MEANS
from deconfliction.domain.wording import time_zone
from tests.support.clock import FIXED_NOW
from tests.support.notice_views import views

pytestmark = pytest.mark.unit

#: Read a minute after it was told.
READ_AT = FIXED_NOW + timedelta(minutes=1)
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")
FRACTION = re.compile(r"\d\d:\d\d:\d\d\.\d+")
#: "17:24Z (in 29 min)", "17:24Z (2 min ago)", "17:24Z (18:24 CET, now)".
TIME = re.compile(
    r"\b\d\d:\d\dZ \((?:\d\d:\d\d [^,()]+, )?(?:in \d+(?:\.\d)? (?:s|min|h|days)"
    r"|\d+(?:\.\d)? (?:s|min|h|days) ago|now)\)"
)
CAUSES = sorted(views(FIXED_NOW))


def _check_times(text: str) -> None:
    assert not FRACTION.search(text), text
    assert not ISO.search(text), text
    # Every clock time in the text comes with how far it is.
    clocks = re.findall(r"\b\d\d:\d\dZ", text)
    assert len(clocks) == len(TIME.findall(text)), text


def _check_words(text: str) -> None:
    assert not re.search(r"\b[Aa] [AEIOaeiou]", text), text  # "A AO type"
    assert not re.search(r"\.\.|\. \.|;\.|\.;", text), text  # "like.."
    assert "  " not in text, text


@pytest.mark.parametrize("cause", CAUSES)
def test_the_geochat_text_of_every_cause(cause: str) -> None:
    view = views(FIXED_NOW)[cause]
    text = notification_text(view, "created", READ_AT)
    _check_times(text)
    _check_words(text)
    assert TIME.search(text), text  # every cause says at least one time
    assert text.count(ACKNOWLEDGEMENT_MEANS) == 1, text  # each message is read alone
    assert text.count("never approved") == 1, text
    for event in ("repeated", "escalated", "answered"):
        again = dict(view)
        if event == "answered":
            again |= {
                "state": "answered",
                "response": {"response": "acknowledged", "by": "Sgt A", "at": READ_AT.isoformat()},
            }
        other = notification_text(again, event, READ_AT)
        _check_times(other)
        assert other.count(ACKNOWLEDGEMENT_MEANS) == 1, other


@pytest.mark.parametrize("cause", CAUSES)
def test_the_web_text_of_every_cause(cause: str) -> None:
    view = views(FIXED_NOW)[cause]
    text = web_text(view, READ_AT)
    _check_times(text)
    _check_words(text)
    assert TIME.search(text), text
    assert "never approved" not in text  # once per screen, by the inbox, not per card


def test_the_times_read_as_a_tired_operator_reads_them() -> None:
    arrival = views(FIXED_NOW)["announced_arrival"]
    text = notification_text(arrival, "created", READ_AT)
    # Deadline 29 min 43 s after it was told, rounded down; read a minute later.
    assert "answer by 12:29Z (in 29 min)" in text
    assert "Answer by 12:29Z (in 29 min): reply ACK A1A1A1." in text
    assert "An AO type of PA can enter the area of Kestrel 7 from 12:59Z (in 58 min)" in text
    assert "looks like Radar R-9: rails behind the cab." in text
    later = notification_text(arrival, "escalated", FIXED_NOW + timedelta(minutes=32))
    assert "Answer by 12:29Z (2 min ago)" in later
    web = web_text(arrival, READ_AT)
    assert web.splitlines()[0] == "answer by 12:29Z (in 29 min)"
    assert web_text(arrival, FIXED_NOW + timedelta(hours=1)).startswith(
        "OVERDUE since 12:29Z (30 min ago)"
    )


def test_in_the_units_time_zone_where_it_has_one() -> None:
    arrival = views(FIXED_NOW)["announced_arrival"]
    berlin = time_zone("Europe/Berlin")
    text = notification_text(arrival, "created", READ_AT, berlin)
    assert "Answer by 12:29Z (13:29 CET, in 29 min)" in text
    assert "12:29Z (13:29 CET, in 29 min)" in web_text(arrival, READ_AT, berlin)


def test_escalations_name_their_cause_with_the_right_article() -> None:
    level1 = views(FIXED_NOW)["escalation"]
    assert "did not answer an announced arrival by 12:29Z" in notification_text(
        level1, "created", READ_AT
    )
    level2 = views(FIXED_NOW)["escalation_level_2"]
    assert "did not answer an unannounced entry due 12:10Z (in 9 min)" in web_text(level2, READ_AT)
