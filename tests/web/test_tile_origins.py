"""``serve --tile-origin``: a map tile server on another address (an offline tile server on
the cell's LAN), allowed by the operator, shows its tiles under the strict CSP; a tile server
on an address not allowed is refused in Map settings with the page's message and is never
asked for anything.

Two loopback listeners stand for the two tile servers: ``allowed`` (named with
``--tile-origin``) answers every request with a tiny PNG, ``other`` (another port, not named)
records what it hears. Every page of the test fails on a CSP violation or a console error
(tests/support/browser.py), so a tile refused by the policy fails it too.
docs/design/security.md, "The web UI renders data as text".
"""

from __future__ import annotations

import re
import struct
import time
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from deconfliction.api import web
from tests.support.browser import Demo, sign_in
from tests.support.live import Server, issue
from tests.support.loopback_listener import LoopbackListener

pytestmark = pytest.mark.browser

#: How long the test waits for a condition the page should reach (generous: a shared machine).
DEADLINE_S = 30.0


def _png_1x1() -> bytes:
    """A valid 1×1 grey PNG, built here (no file, no network)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)  # 1×1, 8-bit greyscale
    pixels = zlib.compress(b"\x00\x80")  # filter byte, one grey pixel
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


PNG = _png_1x1()


def template(listener: LoopbackListener) -> str:
    """The tile URL template of a loopback tile server."""
    return listener.base + "/{z}/{x}/{y}.png"


@pytest.fixture(scope="module")
def allowed() -> Iterator[LoopbackListener]:
    with LoopbackListener(PNG, "image/png") as running:
        yield running


@pytest.fixture(scope="module")
def other() -> Iterator[LoopbackListener]:
    with LoopbackListener(PNG, "image/png") as running:
        yield running


@pytest.fixture(scope="module")
def tiled(tmp_path_factory: pytest.TempPathFactory, allowed: LoopbackListener) -> Iterator[Demo]:
    """The real server with the demo scenario, allowing the ``allowed`` listener's origin."""
    missing = web.missing_vendor()
    if missing:
        pytest.fail(f"the web UI's libraries are not vendored ({', '.join(missing)})")
    data_dir = tmp_path_factory.mktemp("tiles") / "data"
    server = Server(data_dir, "--demo", "--cot-tls-port", "0", "--tile-origin", allowed.base)
    server.start()
    try:
        match = re.search(r"DEMO_TOKEN=(\S+)", server.log())
        assert match, server.log()
        assert f"may load map tiles from: {allowed.base}" in server.log()
        yield Demo(server, match.group(1), issue(data_dir, "admin"))
    finally:
        server.stop()


def _wait_for(condition: Any, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"not within {DEADLINE_S:g} s: {what}")


def _apply(page: Page, url: str) -> None:
    settings = page.locator("details:has(#tile-url)")
    if settings.get_attribute("open") is None:
        settings.locator("summary").click()
    page.fill("#tile-url", url)
    page.click("#tile-apply")


def test_tiles_come_from_an_allowed_origin_and_no_other(
    page: Page, tiled: Demo, allowed: LoopbackListener, other: LoopbackListener
) -> None:
    csp = httpx.get(tiled.url + "/").headers["content-security-policy"]
    img_src = next(d for d in csp.split("; ") if d.startswith("img-src "))
    assert img_src == f"img-src 'self' data: {allowed.base}"
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    sign_in(page, tiled)
    assert allowed.heard == [] and other.heard == []  # no tiles by default

    # The allowed tile server: its tiles are asked for and drawn, no CSP violation (the
    # page fixture fails the test on one), no refusal shown.
    _apply(page, template(allowed))
    _wait_for(lambda: len(allowed.heard) > 0, "the allowed tile server is asked for tiles")
    assert all(re.fullmatch(r"/\d+/\d+/\d+\.png", path) for path in allowed.heard), allowed.heard
    loaded = page.locator(f"#map img.leaflet-tile-loaded[src^='{allowed.base}/']")
    expect(loaded.first).to_be_attached(timeout=DEADLINE_S * 1000)
    expect(page.locator("#tile-status")).to_have_text("")

    # Another loopback port, not allowed: refused with the message, the tile layer gone,
    # and nothing asked of that server.
    _apply(page, template(other))
    status = page.locator("#tile-status")
    expect(status).to_contain_text("Tiles not shown: the page loads images from its own server")
    expect(status).to_contain_text(allowed.base)  # the allowed one is named
    expect(page.locator("#map img.leaflet-tile")).to_have_count(0)

    # After a reload (still signed in: the tab's session) the stored URL is refused again at
    # start.
    page.reload()
    page.wait_for_selector("#map-list li", state="attached")
    expect(page.locator("#tile-status")).to_contain_text("Tiles not shown")
    expect(page.locator("details:has(#tile-url)")).to_have_attribute("open", "")
    expect(page.locator("#tile-url")).to_have_value(template(other))

    # The allowed one again: new tiles arrive. Only then is "nothing heard" asserted on the
    # other server, after the page has done later work than the refusal.
    before = len(allowed.heard)
    _apply(page, template(allowed))
    _wait_for(lambda: len(allowed.heard) > before, "tiles asked for again after the refusal")
    assert other.heard == [], f"the tile server not allowed was asked: {other.heard}"
    assert not [u for u in requested if u.startswith(other.base)], requested
    off_server = [
        u for u in requested if not u.startswith((tiled.url + "/", allowed.base + "/", "data:"))
    ]
    assert off_server == [], off_server
