"""Many assets in view: they are dots on one canvas (not a DOM node each), a click on one
opens its popup and still picks the point for the check, and a check's HOLD highlights it."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from deconfliction.scenarios import demo as story
from tests.support.browser import Demo, sign_in
from tests.support.world import now_iso

pytestmark = pytest.mark.browser

COUNT = 400
#: A grid of Westmark assets releasable to Northland, inside Kestrel 7's AOR.
LAT0, LON0, STEP = 48.45, 36.05, 0.01


def _register(demo: Demo) -> None:
    headers = {"Authorization": f"Bearer {demo.admin}"}
    reports = []
    for i in range(COUNT):
        body = {
            "id": f"wma-many-{i:03d}",
            "party_id": story.WMA,
            "type_id": story.SKYSHIELD_T,
            "callsign": f"Many-{i:03d}",
            "releasable_to": [story.NDF],
        }
        r = httpx.post(f"{demo.url}/v1/assets", json=body, headers=headers, timeout=30)
        assert r.status_code == 201, r.text
        lat, lon = LAT0 + STEP * (i // 20), LON0 + STEP * (i % 20)
        reports.append(
            {
                "asset_id": body["id"],
                "time": now_iso(-30),
                "position": {"lat": lat, "lon": lon},
                "cep_m": 10,
            }
        )
    r = httpx.post(f"{demo.url}/v1/reports", json=reports, headers=headers, timeout=60)
    assert r.status_code == 200, r.text


def test_many_assets_are_dots_on_one_canvas(page: Page, demo: Demo) -> None:
    _register(demo)
    sign_in(page, demo)
    drawn = page.get_attribute("#map", "data-drawn") or ""
    assert "(canvas)" in drawn and int(drawn.split()[0]) >= COUNT, drawn
    expect(page.locator("#map canvas.dc-dots")).to_have_count(1)
    expect(page.locator("#map img.dc-asset")).to_have_count(0)
    assert page.evaluate("document.querySelectorAll('#map *').length") < COUNT
    # Centre the map on one of them and click it: its popup, and the point picked.
    target = 7 * 20 + 5
    lat, lon = LAT0 + STEP * 7, LON0 + STEP * 5
    page.goto(f"{demo.url}/#/map/@{lat},{lon},14")
    box = page.locator("#map").bounding_box()
    assert box is not None
    # The dots of the new view are drawn once its data has come: click until the popup opens
    # (a deadline, not a count of tries: on a loaded machine the view's data takes longer).
    popup = page.locator(".leaflet-popup-content")
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        try:
            popup.wait_for(state="visible", timeout=2000)
            break
        except PlaywrightTimeout:
            continue
    expect(popup).to_contain_text(f"Many-{target:03d}")
    picked = page.input_value("#check-position")
    assert abs(float(picked.split(",")[0]) - lat) < 0.001, picked
    # A check there: HOLD, and back on the map its dot is highlighted (drawn as a hit).
    page.click("#check-submit")
    expect(page.locator("#verdict")).to_have_attribute("data-verdict", "HOLD")
    page.keyboard.press("Escape")
    expect(page.locator("#hitbanner")).to_contain_text("HOLD")
    expect(page.locator("#hitbanner")).to_contain_text(re.compile(r"[1-9]\d* shown on the map"))
