"""Finding 8 of issue 15: a coalition partner names its objects with markup, and another
party's tab must show that markup as text and nothing else.

Westmark's coordination cell registers a protected site and an asset (callsign, contact)
whose strings are hostile HTML — a ``<meta http-equiv="refresh">`` that would send the tab to
another page, images that would report each viewer to a listener this test runs on the
loopback, a fixed box painting "NO_KNOWN_MATCH all clear" over the map, a script, an
``<svg onload>`` — releasable to the NDF, with the asset reported inside the drone team's
AOR (so the team is told about it). The catalogue gets a type of the same kind (its name,
cue and picture). Then the drone team signs in and opens every view: the map with its
tooltips and popups, the list, the inbox with the recognition card, a check at the asset
(HOLD naming it), the cards; the NDF's coordination cell opens its dashboard. Throughout: no
element the strings could make exists, the page stays where it is, no request goes anywhere
but the server, the listener hears nothing, no CSP violation, and the strings are shown
literally.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, Request, expect

from deconfliction.scenarios import demo as story
from tests.support.browser import VIEWPORT, Console, Demo, sign_in
from tests.support.live import issue
from tests.support.loopback_listener import LoopbackListener
from tests.support.world import now_iso

pytestmark = pytest.mark.browser

#: Every element the strings could create carries this attribute: one query finds them all.
MARK = "data-injected"
#: Where the hostile site and asset are: inside the drone team's AOR, near its first view.
SITE_AT = {"lat": 48.62, "lon": 36.25}
ASSET_AT = {"lat": 48.50, "lon": 36.30}
#: The meta refresh fires after this many seconds; the test looks again well after it.
REFRESH_S = 1


@pytest.fixture(scope="module")
def listener() -> Iterator[LoopbackListener]:
    """The beacon the images aim at and the page the refresh would send the tab to."""
    with LoopbackListener() as running:
        yield running


def hostile(listener: LoopbackListener) -> dict[str, str]:
    """The registry strings, each at most 200 characters (ShortText)."""
    beacon = listener.base
    return {
        "site_name": (
            f'<meta {MARK} http-equiv="refresh" content="{REFRESH_S};url={beacon}/refreshed">'
            f"<img {MARK} src={beacon}/beacon-site>Depot"
        ),
        "callsign": (
            f'<div {MARK} style="position:fixed;inset:0;z-index:9999;background:#0a0">'
            "NO_KNOWN_MATCH all clear</div>"
        ),
        "contact": (
            f"<img {MARK} src={beacon}/beacon-contact><script {MARK}>window.dcPwned=1</script>"
            f'<svg {MARK} onload="window.dcPwned=2"></svg>'
        ),
        "type_name": f"<img {MARK} src={beacon}/beacon-type>Hauler",
        "cue": f'<svg {MARK} onload="window.dcPwned=3"></svg><b {MARK}>bold</b> cue',
        "picture_url": f"{beacon}/beacon-picture.png",
    }


def _register(demo: Demo, listener: LoopbackListener) -> dict[str, str]:
    text = hostile(listener)
    admin = {"Authorization": f"Bearer {demo.admin}"}
    cell = issue(demo.server.data_dir, "coordinator", story.WMA_CELL)
    wma = {"Authorization": f"Bearer {cell}"}
    hauler = {
        "id": "wma-hauler",
        "name": text["type_name"],
        "profile": {"mobility": "wheeled", "axles": 3, "features": ["radar"]},
        "max_speed_kmh": 70,
        "sidc": "SFGPUCAA-------",
        "picture_url": text["picture_url"],
        "confusable_with": [{"type_id": story.SKYSHIELD_W, "cue": text["cue"]}],
    }
    site = {
        "id": "wma-depot",
        "party_id": story.WMA,
        "kind": "depot",
        "name": text["site_name"],
        "position": SITE_AT,
        "radius_m": 200,
        "releasable_to": [story.NDF],
    }
    asset = {
        "id": "wma-hauler-1",
        "party_id": story.WMA,
        "type_id": "wma-hauler",
        "callsign": text["callsign"],
        "contact": text["contact"],
        "releasable_to": [story.NDF],
    }
    report = {"asset_id": "wma-hauler-1", "time": now_iso(-30), "position": ASSET_AT, "cep_m": 20}
    with httpx.Client(base_url=demo.url, timeout=30) as c:
        for path, body, headers in (
            ("/v1/equipment-types", hauler, admin),
            ("/v1/sites", site, wma),
            ("/v1/assets", asset, wma),
        ):
            r = c.post(path, json=body, headers=headers)
            assert r.status_code == 201, (path, r.text)
        r = c.post("/v1/reports", json=[report], headers=wma)
        assert r.status_code == 200, r.text
    return text


class Watch:
    """Every request the page makes, to assert that none leaves the server."""

    def __init__(self, page: Page, server: str) -> None:
        self.server = server
        self.elsewhere: list[str] = []
        page.on("request", self.on_request)

    def on_request(self, request: Request) -> None:
        url = request.url
        if not (url.startswith(self.server + "/") or url.startswith("data:")):
            self.elsewhere.append(url)


def _nothing_injected(page: Page, where: str) -> None:
    assert page.locator(f"[{MARK}]").count() == 0, where
    assert page.locator("meta[http-equiv]").count() == 0, where
    assert page.locator("body script, body svg[onload], body img[src*='beacon']").count() == 0
    assert page.evaluate("window.dcPwned") is None, where


def _open_views(page: Page, demo: Demo, text: dict[str, str], console: Console) -> None:
    """The drone team's tour: map (tooltips, popups, list), inbox and card, check, cards."""
    sign_in(page, demo)
    start = page.url
    # The map: the site's and the asset's permanent tooltips show their names as text.
    site_label = page.locator(".leaflet-tooltip", has_text="Depot")
    expect(site_label).to_have_count(1)
    expect(site_label).to_contain_text(text["site_name"])
    asset_label = page.locator(".leaflet-tooltip", has_text="NO_KNOWN_MATCH all clear")
    expect(asset_label).to_have_count(1)
    expect(asset_label).to_contain_text(text["callsign"])
    _nothing_injected(page, "map")
    # Their popups, opened from "On the map".
    page.click("summary:has-text('On the map')")
    for label, shown in (
        (text["site_name"], text["site_name"]),
        (text["callsign"], text["contact"]),
    ):
        page.locator("#map-list button", has_text=label).click()
        expect(page.locator(".leaflet-popup-content", has_text=shown)).to_have_count(1)
        _nothing_injected(page, f"popup of {label}")
    # The inbox: the asset's unannounced entry, its card with the type's name and cue.
    page.click("#tab-inbox")
    notice = page.locator("#inbox-view article.notice", has_text="NO_KNOWN_MATCH all clear").first
    expect(notice).to_contain_text(text["contact"])
    notice.locator("details.notice-card summary").click()
    expect(notice).to_contain_text(text["type_name"])
    expect(notice).to_contain_text(text["cue"])
    _nothing_injected(page, "inbox")
    # A check at the asset: HOLD naming it by its callsign, as text.
    page.click("#tab-map")
    page.fill("#check-position", f"{ASSET_AT['lat']}, {ASSET_AT['lon']}")
    page.click("#check-submit")
    verdict = page.locator("#verdict")
    expect(verdict).to_have_attribute("data-verdict", "HOLD")
    expect(verdict).to_contain_text(text["callsign"])
    expect(verdict).to_contain_text(text["contact"])
    _nothing_injected(page, "verdict")
    page.keyboard.press("Escape")
    # The recognition cards: the type's card, its picture on another server not loaded.
    page.click("#tab-cards")
    card = page.locator("#card-wma-hauler")
    expect(card).to_contain_text(text["type_name"])
    expect(card).to_contain_text(text["cue"])
    expect(card.locator("img.picture")).to_have_count(0)
    _nothing_injected(page, "cards")
    # Well past the refresh's delay the tab is still where the team left it.
    deadline = time.monotonic() + 3 * REFRESH_S
    while time.monotonic() < deadline:
        page.wait_for_timeout(250)
    assert page.url.split("#")[0] == start.split("#")[0]
    _nothing_injected(page, "after the refresh's delay")
    assert not console.unexpected(), console.unexpected()


def test_another_partys_markup_is_shown_as_text_everywhere(
    page: Page, browser: Browser, demo: Demo, console: Console, listener: LoopbackListener
) -> None:
    text = _register(demo, listener)
    watch = Watch(page, demo.url)
    _open_views(page, demo, text, console)

    # The NDF's coordination cell: its dashboard, its map (the same site and asset).
    cell_token = issue(demo.server.data_dir, "coordinator", story.NDF_CELL)
    context = browser.new_context(viewport=VIEWPORT)
    console.watch(context)
    cell = context.new_page()
    cell_watch = Watch(cell, demo.url)
    try:
        sign_in(cell, demo, cell_token)
        expect(cell.locator(".leaflet-tooltip", has_text="Depot")).to_contain_text(
            text["site_name"]
        )
        cell.click("#tab-dashboard")
        expect(cell.locator("#dashboard-body")).not_to_be_empty()
        _nothing_injected(cell, "dashboard")
    finally:
        context.close()

    assert watch.elsewhere == [] and cell_watch.elsewhere == []
    assert listener.heard == [], f"the listener on the loopback was called: {listener.heard}"
