"""The demo story in a real browser, end to end: the drone team (Kestrel 7) finds the
announced arrival of Bastion-2 in its inbox (live, over server-sent events), opens its
recognition card, answers ``briefed``, clicks where the incident happened and checks:
``HOLD`` naming the wheeled variant. Westmark's coordination cell watches its awareness
dashboard change as the team answers. Another party (Open Hands) sees none of the
owner-only assets. The screenshots of the README are made here (``docs/img/``)."""

from __future__ import annotations

import os
import re
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from deconfliction.scenarios import demo as story
from tests.support.browser import HIDDEN_ASSET, VIEWPORT, Console, Demo, sign_in
from tests.support.live import issue

pytestmark = pytest.mark.browser

#: The README's screenshots. Every run makes them; with DECONFLICTION_SCREENSHOTS=docs they
#: replace the committed ones in docs/img (else they go to a temporary directory, so that a
#: test run leaves the working tree clean).
IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


def _shot(page: Page, name: str) -> None:
    if os.environ.get("DECONFLICTION_SCREENSHOTS") == "docs":
        folder = IMG
    else:
        folder = Path(tempfile.gettempdir()) / "deconfliction-screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000


def _tab(browser: Browser, console: Console, **options: object) -> Page:
    """Another tab in its own context (its own sessionStorage: its own sign-in)."""
    context = browser.new_context(**options)  # type: ignore[arg-type]
    console.watch(context)
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    return tab


def test_the_drone_team_is_told_answers_checks_and_the_cell_sees_it(
    page: Page, browser: Browser, demo: Demo, console: Console
) -> None:
    # Westmark's coordination cell opens its dashboard for Bastion-2 first.
    cell_token = issue(demo.server.data_dir, "coordinator", story.WMA_CELL)
    cell = _tab(browser, console, viewport=VIEWPORT)
    sign_in(cell, demo, cell_token)
    cell.click("#tab-dashboard")
    row = cell.locator(f'#dashboard-table tr[data-unit="{story.DRONE_TEAM}"]')
    expect(row).to_have_count(1)
    expect(row.locator("td.answer")).to_have_text("NO ANSWER")
    expect(row.locator("td.briefed")).to_have_text("NOT BRIEFED")
    expect(cell.locator("#dashboard-unbriefed")).to_contain_text(story.DRONE_TEAM)

    # The drone team signs in: its unanswered notifications are counted in the top bar.
    sign_in(page, demo)
    expect(page.locator("#inbox-count")).to_be_visible()
    count_before = int(page.inner_text("#inbox-count"))
    assert count_before >= 2
    # Rampart-9 (owner-only, reported inside the team's AOR unannounced) raises the urgent
    # banner, without naming what the team may not see.
    expect(page.locator("#alert-banner")).to_be_visible()
    expect(page.locator("#alert-banner")).to_contain_text("URGENT")
    page.click("#alert-open")
    expect(page.locator("#inbox-view")).to_be_visible()
    # Most urgent first.
    first = page.locator("#inbox-list article.notice").first
    expect(first).to_have_class(re.compile(r"\burgent\b"))
    assert HIDDEN_ASSET["callsign"] not in page.content()

    # The announced arrival of Bastion-2, with its recognition card.
    arrival = page.locator(
        "#inbox-list article.notice[data-cause=announced_arrival]", has_text="Bastion-2"
    )
    expect(arrival).to_have_count(1)
    # Issue 24: the acknowledgement rule once per screen, not on every card; times as
    # 17:24Z with how far they are, never a raw instant.
    expect(page.locator("#inbox-rule")).to_contain_text("received, never approved")
    assert page.inner_text("#inbox-view").count("never approved") == 1
    expect(arrival.locator(".message")).to_contain_text(re.compile(r"\d\d:\d\dZ \("))
    assert not re.search(r"\d{4}-\d\d-\d\dT", arrival.inner_text())
    arrival.locator("details.notice-card summary").click()
    card = arrival.locator("article.card")
    expect(card).to_contain_text("Skyshield-W")
    expect(card).to_contain_text("Looks like Type-88 search radar truck")
    expect(card.locator(".cue")).to_contain_text("launcher rails folded behind the cab")
    expect(card.locator(".pair > div")).to_have_count(2)  # side by side
    _shot(page, "inbox")

    # Answer "briefed" on the briefing for the type, with the name of who answers.
    briefing = page.locator(
        "#inbox-list article.notice[data-cause=recognition_briefing]", has_text="Skyshield-W"
    )
    briefing.locator("button[data-answer=briefed]").click()
    expect(briefing.locator(".error")).to_contain_text("by")  # who answers is required
    page.fill("#answer-by", "Sgt. Vale")
    briefing.locator("button[data-answer=briefed]").click()
    expect(briefing).to_have_count(0)  # answered: no longer in the unanswered list
    answered = page.locator("#inbox-answered article[data-cause=recognition_briefing]")
    expect(answered).to_contain_text("Answered “briefed” by Sgt. Vale")
    # Acknowledge the arrival from the keyboard.
    ack = arrival.locator("button[data-answer=acknowledged]")
    ack.focus()
    page.keyboard.press("Enter")
    expect(arrival).to_have_count(0)
    expect(page.locator("#inbox-count")).to_have_text(str(count_before - 2))

    # The cell's dashboard changes by itself: the team answered and is briefed.
    expect(row.locator("td.answer")).to_contain_text("acknowledged — Sgt. Vale")
    expect(row.locator("td.briefed")).to_have_text("briefed")
    expect(cell.locator("#dashboard-unbriefed")).not_to_contain_text(story.DRONE_TEAM)
    _shot(cell, "dashboard")

    # Click where the incident happened (the map centred there: the reticle), and check.
    incident = story.build_demo(datetime.now(UTC)).incident_check
    point = incident.position
    page.goto(f"{demo.url}/#/map/@{point.lat},{point.lon},14")
    page.wait_for_selector("#map[data-drawn]", state="attached")
    _shot(page, "map")
    box = page.locator("#map").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    picked = page.input_value("#check-position")
    lat, lon = (float(v) for v in picked.split(","))
    assert abs(lat - point.lat) < 0.001 and abs(lon - point.lon) < 0.001, picked
    page.fill("#check-cep", str(int(incident.cep_m)))
    page.select_option("#check-mobility", "wheeled")
    for feature in incident.observed.features:
        page.check(f"#feature-{feature}")
    page.click("#check-submit")
    verdict = page.locator("#verdict")
    expect(verdict).to_have_attribute("data-verdict", "HOLD")
    expect(page.locator("#verdict-word")).to_have_text("HOLD")
    expect(page.locator("#verdict-reasons")).to_contain_text("Bastion-2")
    expect(page.locator("#verdict-reasons")).to_contain_text("wheeled")
    _shot(page, "check-hold")
    cell.context.close()


def test_a_new_arrival_reaches_the_open_inbox_live(
    page: Page, demo: Demo, console: Console
) -> None:
    sign_in(page, demo)
    page.click("#tab-inbox")
    expect(page.locator("#inbox-status")).to_contain_text("live")
    before = int(page.inner_text("#inbox-count") or "0")
    # Westmark registers a new asset and its march into Kestrel 7's area, while the
    # inbox is open: the announcement arrives over the stream, no reload.
    headers = {"Authorization": f"Bearer {demo.admin}"}
    asset = {
        "id": "wma-lancer-4",
        "party_id": story.WMA,
        "type_id": story.SKYSHIELD_T,
        "callsign": "Lancer-4",
        "releasable_to": ["*"],
    }
    r = httpx.post(f"{demo.url}/v1/assets", json=asset, headers=headers)
    assert r.status_code == 201, r.text
    now = datetime.now(UTC)
    movement = {
        "id": "wma-lancer-4-march",
        "asset_id": "wma-lancer-4",
        "route": {"type": "LineString", "coordinates": [[36.2, 48.9], [36.2, 48.5]]},
        "corridor_m": 300,
        "start": now.isoformat(),
        "end": (now + timedelta(hours=6)).isoformat(),
        "releasable_to": ["*"],
    }
    r = httpx.post(f"{demo.url}/v1/movements", json=movement, headers=headers)
    assert r.status_code == 201, r.text
    live = page.locator(
        "#inbox-list article.notice[data-cause=announced_arrival]", has_text="Lancer-4"
    )
    expect(live).to_have_count(1)
    assert int(page.inner_text("#inbox-count")) > before


def test_another_party_sees_none_of_the_owner_only_assets(page: Page, demo: Demo) -> None:
    token = issue(demo.server.data_dir, "operator", story.OHR_CELL)
    sign_in(page, demo, token)
    listed = str(page.eval_on_selector("#map-list", "el => el.textContent"))
    # Open Hands sees its own convoy, and nothing another party keeps to itself.
    assert "Hope-3" in listed
    scenario = story.build_demo(datetime.now(UTC))
    owner_only = [
        a.callsign for a in scenario.assets if a.party_id != story.OHR and a.releasable_to != ["*"]
    ]
    assert owner_only  # Bastion-2 (Northland only), Citadel-1, the drone team's vehicle
    for callsign in [*owner_only, HIDDEN_ASSET["callsign"]]:
        assert callsign not in listed
    page.click("#tab-inbox")
    content = page.content()
    for callsign in [*owner_only, HIDDEN_ASSET["callsign"]]:
        assert callsign not in content, callsign
    # An operator has no awareness dashboard.
    expect(page.locator("#tab-dashboard")).to_be_hidden()


def test_a_ten_inch_tablet_upright_and_across(
    browser: Browser, demo: Demo, console: Console
) -> None:
    for width, height in ((800, 1280), (1280, 800)):
        tab = _tab(browser, console, viewport={"width": width, "height": height}, has_touch=True)
        sign_in(tab, demo)
        # Nothing wider than the screen; the map, the check button and the inbox all reachable.
        overflow = tab.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (width, height, overflow)
        expect(tab.locator("#map")).to_be_visible()
        tab.locator("#check-submit").scroll_into_view_if_needed()
        expect(tab.locator("#check-submit")).to_be_in_viewport()
        tab.locator("#tab-inbox").tap()
        expect(tab.locator("#inbox-view")).to_be_visible()
        expect(tab.locator("#inbox-list article.notice").first).to_be_visible()
        overflow = tab.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (width, height, overflow)
        if width < height:
            _shot(tab, "tablet-inbox")
        tab.context.close()
    assert not console.unexpected(), "\n".join(console.unexpected())


def test_the_stream_parser_takes_events_split_anywhere(page: Page, demo: Demo) -> None:
    sign_in(page, demo)
    events = page.evaluate(
        """async () => {
          const { EventParser } = await import("/web/js/sse.js");
          const out = [];
          let retry = null;
          const p = new EventParser((e) => out.push(e), (ms) => (retry = ms));
          const text = "retry: 1000\\n\\n: keepalive\\n\\nid: 7\\nevent: created\\ndata: {\\"a\\"" +
            ":1}\\n\\nid: 8\\r\\nevent: answered\\r\\ndata: x\\r\\ndata: y\\r\\n\\r\\n";
          for (const piece of text.match(/.{1,3}/gs)) p.push(piece);
          return { out, retry };
        }"""
    )
    assert events["retry"] == 1000
    assert events["out"] == [
        {"id": "7", "event": "created", "data": '{"a":1}'},
        {"id": "8", "event": "answered", "data": "x\ny"},
    ]
