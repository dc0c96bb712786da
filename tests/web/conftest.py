"""The browser tests' fixtures (``tests/support/browser.py``): the demo server, Chromium, pages."""

from tests.support.browser import browser, console, demo, page, playwright  # noqa: F401
