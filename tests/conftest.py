"""Shared test fixtures, kept minimal: most tests build what they need in place."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

#: A fixed clock, so that tests never depend on when they run.
FIXED_NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def now() -> datetime:
    return FIXED_NOW
