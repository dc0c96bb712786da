"""The revoked-serials list (``tak/revocation.py``); the gateway's use of it is tested over
the real server in ``tests/tak/test_gateway.py``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from deconfliction.tak.revocation import (
    Revocations,
    SerialError,
    parse_serial,
    read_revoked,
    revoke,
    revoked_path,
)
from tests.support.clock import FIXED_NOW

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("text", ["5a3f", "5A3F", "0x5a3f", "5a:3f", " 5A:3F "])
def test_serials_are_compared_as_numbers(text: str) -> None:
    assert parse_serial(text) == 0x5A3F


@pytest.mark.parametrize("text", ["", "xyz", "12 34", "1" * 41, "-5"])
def test_bad_serials_are_named(text: str) -> None:
    with pytest.raises(SerialError, match="serial"):
        parse_serial(text)


def test_revoke_adds_once_and_keeps_the_reason_on_one_line(tmp_path: Path) -> None:
    assert revoke(tmp_path, 0xABC, FIXED_NOW, "lost\nphone")
    assert not revoke(tmp_path, 0xABC, FIXED_NOW)
    assert revoke(tmp_path, 0xDEF, FIXED_NOW)
    path = revoked_path(tmp_path)
    assert read_revoked(path) == {0xABC, 0xDEF}
    assert "abc  # 2026-03-01T12:00:00+00:00 lost phone" in path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_bad_line_is_skipped_and_the_rest_applies(tmp_path: Path) -> None:
    path = tmp_path / "revoked.txt"
    path.write_text("# list\nnot-a-serial\n\n0a1b # why\n")
    assert read_revoked(path) == {0x0A1B}


def test_the_gateway_view_follows_the_file(tmp_path: Path) -> None:
    revocations = Revocations.of(tmp_path)
    assert not revocations.is_revoked("0A1B")  # no file yet
    revoke(tmp_path, 0x0A1B, FIXED_NOW)
    assert revocations.is_revoked("0A1B")  # as ssl writes it: upper case, padded
    assert not revocations.is_revoked("0A1C")
    assert not revocations.is_revoked(None) and not revocations.is_revoked("garbage")
    os.unlink(revoked_path(tmp_path))
    assert not revocations.is_revoked("0A1B")
