"""The one fixed time of the suite, so that no test depends on when it runs."""

from __future__ import annotations

from datetime import UTC, datetime

#: The moment every test that needs a fixed "now" uses (the ``now`` fixture returns it).
FIXED_NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

#: ``FIXED_NOW`` as the store writes a time (microseconds, ``Z``).
FIXED_NOW_STORED = FIXED_NOW.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
