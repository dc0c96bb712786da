"""Words for a tired operator (issue 24): articles as words are said, relative times,
mended punctuation, clock times in UTC and a unit's own zone; a unit's time zone."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from deconfliction.domain import wording
from deconfliction.domain.model import STORED, Unit
from tests.support.clock import FIXED_NOW
from tests.support.world import BOX_A, unit

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("noun", "expected"),
    [
        ("AO type", "an AO type"),
        ("PA", "a PA"),
        ("APC", "an APC"),
        ("MBT", "an MBT"),
        ("HOLD on your asset", "a HOLD on your asset"),
        ("UAV", "a UAV"),
        ("announced arrival", "an announced arrival"),
        ("drone", "a drone"),
        ("8-wheeler", "an 8-wheeler"),
    ],
)
def test_articles_as_the_word_is_said(noun: str, expected: str) -> None:
    assert wording.with_article(noun) == expected


def test_relative_times_and_clock_times() -> None:
    now = FIXED_NOW.timestamp()
    assert wording.relative(29 * 60) == "in 29 min"
    assert wording.relative(-120) == "2 min ago"
    assert wording.relative(10) == "now"
    assert wording.when(now + 29 * 60 + 59, now) == "12:29Z (in 30 min)"  # rounded down
    later = now + 26 * 3600
    assert wording.when(later, now) == "2 Mar 14:00Z (in 26 h)"
    berlin = wording.time_zone("Europe/Berlin")
    assert wording.when(now, now - 600, berlin) == "12:00Z (13:00 CET, in 10 min)"


def test_doubled_punctuation_is_mended() -> None:
    assert wording.tidy("looks like..  a truck.. ;") == "looks like. a truck."
    assert wording.tidy("cue. . Answer") == "cue. Answer"


def test_a_units_time_zone_is_an_iana_name() -> None:
    body = {**unit("u", "p", BOX_A), "time_zone": "Europe/Berlin"}
    assert Unit.model_validate(body).time_zone == "Europe/Berlin"
    with pytest.raises(ValidationError, match="time_zone"):
        Unit.model_validate({**body, "time_zone": "Mars/Olympus"})
    # Stored by another version: read as unset, never refusing to load the index.
    assert (
        Unit.model_validate({**body, "time_zone": "Mars/Olympus"}, context=STORED).time_zone is None
    )
    assert wording.time_zone("Mars/Olympus") is None
