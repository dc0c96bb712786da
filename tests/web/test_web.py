"""The web UI in a real browser against the real server with the demo scenario: sign in as
the drone team, see the map (only what it may see), check from the form (HOLD naming
Bastion-2; far away NO_KNOWN_MATCH with its countdown; a 503 shown as HOLD), and read the
recognition cards."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import mgrs
import pytest
from playwright.sync_api import Page, Route, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from deconfliction.scenarios.demo import build_demo
from tests.support.browser import HIDDEN_POSITION, Console, Demo, screenshot, sign_in
from tests.support.live import issue

pytestmark = pytest.mark.browser


def _markers(page: Page) -> list[str]:
    return [
        str(el.get_attribute("alt"))
        for el in page.query_selector_all("#map img.leaflet-marker-icon.dc-asset")
    ]


def _listed(page: Page) -> str:
    """The sidebar's list of what is on the map (inside a closed <details>)."""
    return str(page.eval_on_selector("#map-list", "el => el.textContent"))


def test_sign_in_shows_the_team_and_only_what_it_may_see(
    page: Page, demo: Demo, tmp_path: Path
) -> None:
    page.goto(demo.url + "/")
    expect(page.locator("#signin-view")).to_be_visible()
    sign_in(page, demo)
    expect(page.locator("#whoami")).to_contain_text("Kestrel Drone Team 7")
    expect(page.locator("#whoami")).to_contain_text("Northland Defence Force")
    assert page.evaluate("sessionStorage.getItem('deconfliction.token')") == demo.token
    # The AOR is drawn, Bastion-2 (releasable to Northland) is on the map with its symbol ...
    expect(page.locator("#map path.dc-aor")).to_have_count(1)
    expect(page.locator('#map img.dc-asset[alt="Bastion-2"]')).to_have_count(1)
    src = page.get_attribute('#map img.dc-asset[alt="Bastion-2"]', "src") or ""
    assert src.startswith("data:image/")  # the milsymbol symbol of its type's SIDC
    listed = _listed(page)
    assert "AOR — Kestrel Drone Team 7" in listed and "Bastion-2" in listed
    assert "Movement of Bastion-2" in listed
    # The map holds what is in view: the field hospital, south of the AOR, comes in when the
    # view is zoomed out to reach it (the page asks again for the new view).
    assert "Meadowbrook Field Hospital" not in listed
    page.click("#map .leaflet-control-zoom-out")
    expect(page.locator("#map-list")).to_contain_text("Meadowbrook Field Hospital")
    # ... and Westmark's owner-only Rampart-9 is nowhere.
    assert "Bastion-2" in _markers(page)
    assert "Rampart-9" not in _markers(page)
    assert "Rampart-9" not in page.content() and "wma-rampart-9" not in page.content()
    # Layer toggles hide and show the assets.
    page.uncheck("#toggle-asset")
    expect(page.locator("#map img.dc-asset")).to_have_count(0)
    page.check("#toggle-asset")
    expect(page.locator('#map img.dc-asset[alt="Bastion-2"]')).to_have_count(1)
    # Coordinates are shown as lat/lon and MGRS.
    page.mouse.move(300, 400)
    expect(page.locator("#coords")).to_contain_text(" N ")
    assert "·" in page.inner_text("#coords")
    shot = screenshot(page, tmp_path / "map-1024x768.png")
    print(f"screenshot: {shot}")


def test_the_incident_check_from_the_form_is_hold_naming_bastion_2(
    page: Page, demo: Demo, tmp_path: Path
) -> None:
    sign_in(page, demo)
    markers_before = _markers(page)
    incident = build_demo(datetime.now(UTC)).incident_check
    point = incident.position
    page.fill("#check-position", f"{point.lat}, {point.lon}")
    expect(page.locator("#position-readout")).to_contain_text("36U")  # its MGRS
    page.fill("#check-cep", str(int(incident.cep_m)))
    page.select_option("#check-mobility", "wheeled")
    for feature in incident.observed.features:
        page.check(f"#feature-{feature}")
    page.fill("#check-note", "radar vehicle?")
    page.keyboard.press("Enter")  # submits the form from the keyboard
    verdict = page.locator("#verdict")
    expect(verdict).to_be_visible()
    expect(verdict).to_have_attribute("data-verdict", "HOLD")
    expect(page.locator("#verdict-word")).to_have_text("HOLD")
    expect(page.locator("#verdict-reasons")).to_contain_text("Bastion-2")
    expect(verdict).to_contain_text("Contact: Westmark air-defence ops")
    expect(page.locator("#verdict-countdown")).to_contain_text("left")
    screenshot(page, tmp_path / "hold-1024x768.png")
    # Escape: back to the map, where the matches the team may see are highlighted ...
    page.keyboard.press("Escape")
    expect(verdict).to_be_hidden()
    expect(page.locator("#hitbanner")).to_contain_text("HOLD")
    expect(page.locator('#map img.dc-asset.dc-hit[alt="Bastion-2"]')).to_have_count(1)
    # ... and the check's own position is not on the map (principle 2).
    assert sorted(_markers(page)) == sorted(markers_before)
    screenshot(page, tmp_path / "hold-map-1024x768.png")
    page.click("#hitbanner-clear")
    expect(page.locator("#map img.dc-asset.dc-hit")).to_have_count(0)


def test_a_check_far_away_is_no_known_match_with_valid_until(
    page: Page, demo: Demo, tmp_path: Path
) -> None:
    sign_in(page, demo)
    far = mgrs.MGRS().toMGRS(10.0, 10.0)  # typed as MGRS
    page.fill("#check-position", far)
    expect(page.locator("#position-readout")).to_contain_text("10.0")
    page.click("#check-submit")
    verdict = page.locator("#verdict")
    expect(verdict).to_have_attribute("data-verdict", "NO_KNOWN_MATCH")
    expect(page.locator("#verdict-word")).to_have_text("NO KNOWN MATCH")
    expect(verdict).to_contain_text("not a clearance")
    valid_until = page.get_attribute("#verdict-valid-until", "data-valid-until")
    assert valid_until is not None
    assert datetime.fromisoformat(valid_until) > datetime.now(UTC)
    countdown = page.locator("#verdict-countdown")
    expect(countdown).to_contain_text("left")
    first = countdown.inner_text()
    page.wait_for_timeout(1_100)
    assert countdown.inner_text() != first or " h " in first  # ticks (minutes beyond an hour)
    expect(page.locator("#verdict-gaps")).to_be_visible()
    screenshot(page, tmp_path / "no-known-match-1024x768.png")


def test_an_incomplete_answer_is_shown_as_hold(page: Page, demo: Demo, console: Console) -> None:
    console.allowed.append(r"status of 503")  # the browser logs the failed request itself

    def unavailable(route: Route) -> None:
        body = {
            "error": {
                "code": "index_loading",
                "message": "the index is still loading",
                "treat_as": "HOLD",
            }
        }
        route.fulfill(status=503, content_type="application/json", body=json.dumps(body))

    sign_in(page, demo)
    page.route("**/v1/checks", unavailable)
    page.fill("#check-position", "48.5, 36.2")
    page.click("#check-submit")
    expect(page.locator("#verdict")).to_have_attribute("data-verdict", "HOLD")
    expect(page.locator("#verdict-word")).to_have_text("HOLD")
    expect(page.locator("#verdict")).to_contain_text("the index is still loading")
    expect(page.locator("#verdict")).to_contain_text("treat the point as HOLD")


def test_bad_input_is_named_in_the_form(page: Page, demo: Demo) -> None:
    sign_in(page, demo)
    page.fill("#check-position", "not a place")
    page.click("#check-submit")
    expect(page.locator("#check-error")).to_contain_text("not a lat, lon pair or an MGRS")
    expect(page.locator("#verdict")).to_be_hidden()


def test_recognition_cards_show_the_look_alike_and_its_cue(page: Page, demo: Demo) -> None:
    sign_in(page, demo)
    page.click("#tab-cards")
    card = page.locator("#card-skyshield-w")
    expect(card).to_be_visible()
    expect(card).to_contain_text("variant of Skyshield-T")
    expect(card).to_contain_text("Looks like Type-88 search radar truck")
    expect(card.locator(".cue")).to_contain_text("launcher rails folded behind the cab")
    expect(card.locator("img.sym")).to_have_count(1)
    # Another side's type exists only as the "looks like" half of a friendly card.
    expect(page.locator("#card-type-88-radar-truck")).to_have_count(0)
    expect(page.locator("#card-skyshield-t")).to_contain_text("Variants: Skyshield-W")


def test_a_bad_token_is_refused_and_sign_out_forgets_the_token(
    page: Page, demo: Demo, console: Console
) -> None:
    console.allowed.append(r"status of 401")
    page.goto(demo.url + "/")
    page.fill("#token", "dcf_nope_nope")
    page.click("#signin-form button[type=submit]")
    expect(page.locator("#signin-error")).to_contain_text("not valid")
    sign_in(page, demo)
    page.click("#signout")
    expect(page.locator("#signin-view")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('deconfliction.token')") is None
    expect(page.locator("#map-view")).to_be_hidden()


def test_a_revoked_token_signs_the_tab_out(page: Page, demo: Demo, console: Console) -> None:
    console.allowed.append(r"status of 401")
    token = issue(demo.server.data_dir, "operator", "ndf-kestrel-7")
    sign_in(page, demo, token)
    token_id = token.split("_")[1]
    r = httpx.delete(
        f"{demo.url}/v1/tokens/{token_id}", headers={"Authorization": f"Bearer {demo.admin}"}
    )
    assert r.status_code == 204, r.text
    page.wait_for_timeout(1_200)  # a token lookup is cached for at most a second
    # The tab's own next request (the inbox's stream, a map refresh) may already have
    # signed it out; if not, a check does.
    try:
        page.fill("#check-position", "48.5, 36.2", timeout=2_000)
        page.click("#check-submit", timeout=2_000)
    except PlaywrightTimeout:
        pass  # signed out already, by its own request
    expect(page.locator("#signin-view")).to_be_visible()
    expect(page.locator("#signin-error")).to_contain_text("no longer valid")
    expect(page.locator("#map-view")).to_be_hidden()


def test_a_hold_on_what_the_team_may_not_see_names_only_party_and_contact(
    page: Page, demo: Demo
) -> None:
    sign_in(page, demo)
    markers_before = _markers(page)
    page.fill("#check-position", f"{HIDDEN_POSITION['lat']}, {HIDDEN_POSITION['lon']}")
    page.fill("#check-cep", "20")
    page.click("#check-submit")
    verdict = page.locator("#verdict")
    expect(verdict).to_have_attribute("data-verdict", "HOLD")
    expect(verdict).to_contain_text("Details withheld — Westmark Army")
    expect(verdict).to_contain_text("Contact: Westmark")
    assert "Rampart-9" not in page.content() and "wma-rampart-9" not in page.content()
    page.keyboard.press("Escape")
    expect(page.locator("#hitbanner")).to_contain_text("0 shown on the map")
    assert sorted(_markers(page)) == sorted(markers_before)
