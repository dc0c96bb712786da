"""Browser tests: Playwright (sync API) drives Debian's Chromium against the real server
(a subprocess with the demo scenario, as the integration tests start it).

No browser is downloaded: Chromium comes from Debian (``./run-tests`` installs it with
``scripts/ensure-chromium.sh``) and the page's libraries are vendored by
``scripts/vendor-web.sh`` (``./run-tests`` runs it too). Every test's page fails the test on
any console error, uncaught page error or Content-Security-Policy violation.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    ViewportSize,
    sync_playwright,
)

from deconfliction.api import web
from tests.support.live import Server, issue
from tests.support.world import now_iso

CHROMIUM = os.environ.get("DECONFLICTION_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT: ViewportSize = {"width": 1024, "height": 768}
#: An owner-only asset of Westmark near Kestrel 7: the drone team must never see it.
HIDDEN_ASSET = {
    "id": "wma-rampart-9",
    "party_id": "wma",
    "type_id": "skyshield-w",
    "callsign": "Rampart-9",
}
HIDDEN_POSITION = {"lat": 48.55, "lon": 36.10}


@dataclass
class Demo:
    server: Server
    token: str
    admin: str

    @property
    def url(self) -> str:
        return self.server.url


#: Runs in every page before its own scripts: each CSP violation (an inline style refused,
#: an image from another origin blocked, ...) is reported to the test by name.
CSP_WATCH = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.dcCspViolation(`${e.effectiveDirective} refused ${e.blockedURI || "inline"} `
    + `at ${e.sourceFile || "?"}:${e.lineNumber} (${e.sample || ""})`);
});
"""


@dataclass
class Console:
    """Console errors, uncaught page errors and CSP violations of one page; ``allowed``
    patterns excepted."""

    errors: list[str] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console error: {message.text} ({message.location})")

    def on_csp_violation(self, _source: object, what: str) -> None:
        self.errors.append(f"CSP violation: {what}")

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(re.search(p, e) for p in self.allowed)]

    def watch(self, context: BrowserContext) -> None:
        """Every page of ``context`` reports its console errors, page errors and CSP
        violations here (``securitypolicyviolation`` events: Chromium also logs most of
        them to the console, but not every kind)."""
        context.expose_binding("dcCspViolation", self.on_csp_violation)
        context.add_init_script(CSP_WATCH)
        context.on("console", self.on_console)
        context.on("weberror", lambda error: self.errors.append(f"page error: {error.error}"))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The real server with the demo scenario, plus an owner-only Westmark asset near the
    drone team, reported two minutes ago."""
    missing = web.missing_vendor()
    if missing:
        pytest.fail(
            f"the web UI's libraries are not vendored ({', '.join(missing)}): run "
            "scripts/vendor-web.sh (./run-tests does)",
            pytrace=False,
        )
    data_dir = tmp_path_factory.mktemp("web") / "data"
    server = Server(data_dir, "--demo", "--cot-tls-port", "0")
    server.start()
    try:
        match = re.search(r"DEMO_TOKEN=(\S+)", server.log())
        assert match, server.log()
        admin = issue(data_dir, "admin")
        headers = {"Authorization": f"Bearer {admin}"}
        r = httpx.post(f"{server.url}/v1/assets", json=HIDDEN_ASSET, headers=headers)
        assert r.status_code == 201, r.text
        hidden_report = {
            "asset_id": HIDDEN_ASSET["id"],
            "time": now_iso(-120),
            "position": HIDDEN_POSITION,
            "cep_m": 10,
        }
        r = httpx.post(f"{server.url}/v1/reports", json=[hidden_report], headers=headers)
        assert r.status_code == 200, r.text
        yield Demo(server, match.group(1), admin)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium is needed at {CHROMIUM} for the browser tests: run "
            "scripts/ensure-chromium.sh (./run-tests does) or apt-get install -y chromium",
            pytrace=False,
        )
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def page(browser: Browser, console: Console) -> Iterator[Page]:
    """A fresh tab at 1024×768 (its own sessionStorage) that fails the test on console
    errors, page errors and CSP violations."""
    context = browser.new_context(viewport=VIEWPORT)
    console.watch(context)
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    yield tab
    context.close()
    unexpected = console.unexpected()
    assert not unexpected, "\n".join(unexpected)


def sign_in(page: Page, demo: Demo, token: str | None = None) -> None:
    page.goto(demo.url + "/")
    page.fill("#token", token or demo.token)
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("#map-list li", state="attached")


def screenshot(page: Page, path: Path) -> Path:
    page.screenshot(path=str(path))
    assert path.stat().st_size > 0
    return path
