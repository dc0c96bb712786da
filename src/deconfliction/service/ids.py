"""Identifiers the service mints."""

from __future__ import annotations

import os
import time


def time_ordered_hex() -> str:
    """32 hex digits: 48-bit milliseconds since the epoch, then 80 random bits (UUIDv7-like)."""
    ms = time.time_ns() // 1_000_000
    return f"{ms:012x}{os.urandom(10).hex()}"


def new_check_id() -> str:
    return "chk_" + time_ordered_hex()


def new_notification_id() -> str:
    return "ntf_" + time_ordered_hex()
