"""Issue 24: the web inbox's words are the server's. ``web/js/when.js`` renders every cause's
message and deadline at a given moment exactly as ``domain/notice_text.web_text`` does (the
unit tests of each cause's text are in ``tests/cot/test_notice_texts.py``), with and without
a unit's time zone, and the demo's cards show times as ``HH:MMZ (…)`` that keep counting,
with the acknowledgement rule once on the screen."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from deconfliction.domain.notice_text import web_text
from deconfliction.domain.wording import time_zone
from tests.support.browser import Demo, sign_in
from tests.support.clock import FIXED_NOW
from tests.support.notice_views import views

pytestmark = pytest.mark.browser

#: The JS side of web_text: the card's deadline line and its message, at a fixed moment.
RENDER = """async ([view, nowMs, zone]) => {
  const { humanise, when } = await import("/web/js/when.js");
  const lines = [];
  if (view.deadline && view.response === null) {
    const left = Date.parse(view.deadline) - nowMs;
    lines.push(`${left >= 0 ? "answer by" : "OVERDUE since"} ${when(view.deadline, nowMs, zone)}`);
  }
  const text = humanise(view.message, nowMs, zone);
  if (text) lines.push(text);
  return lines.join("\\n");
}"""


@pytest.mark.parametrize("zone", [None, "Europe/Berlin"])
def test_the_browser_words_every_cause_as_the_server_does(
    page: Page, demo: Demo, zone: str | None
) -> None:
    page.goto(demo.url + "/")
    for minutes in (1, 45, 26 * 60):  # soon, overdue, another day
        read_at = FIXED_NOW + timedelta(minutes=minutes)
        for cause, view in views(FIXED_NOW).items():
            js = page.evaluate(RENDER, [view, read_at.timestamp() * 1000, zone])
            assert js == web_text(view, read_at, time_zone(zone)), (cause, minutes)


def test_the_demo_cards_show_clock_times_and_the_rule_once(page: Page, demo: Demo) -> None:
    sign_in(page, demo)
    page.click("#tab-inbox")
    cards = page.locator("#inbox-list article.notice")
    expect(cards.first).to_be_visible()
    text = page.inner_text("#inbox-view")
    assert text.count("never approved") == 1
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", text)
    assert re.search(r"answer by \d\d:\d\dZ \(in \d", text)
    assert page.locator("#inbox-view time.when").count() > 0
