"""The command line refuses bad input with a message that names what is wrong, and
changes nothing: ``dashboard`` and ``tak revoke``."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from deconfliction.cli import EXIT_REFUSED, app
from deconfliction.tak.revocation import revoked_path

pytestmark = pytest.mark.unit

#: Nothing listens here (port 9, discard, is not served on this machine's loopback).
NOWHERE = "http://127.0.0.1:9"


def test_dashboard_needs_a_token_and_exactly_one_subject() -> None:
    runner = CliRunner()
    no_token = runner.invoke(app, ["dashboard", "--asset", "a1", "--url", NOWHERE], env={})
    assert no_token.exit_code == EXIT_REFUSED
    assert "--token" in no_token.output
    for args in ([], ["--asset", "a1", "--area", "z1"]):
        both = runner.invoke(app, ["dashboard", *args, "--token", "t", "--url", NOWHERE])
        assert both.exit_code != 0
        assert "exactly one of --asset or --area" in both.output
    unreachable = runner.invoke(
        app, ["dashboard", "--asset", "a1", "--token", "t", "--url", NOWHERE]
    )
    assert unreachable.exit_code != 0
    assert f"could not reach {NOWHERE}" in unreachable.output


def test_tak_revoke_refuses_a_serial_that_is_not_one(tmp_path: Path) -> None:
    runner = CliRunner()
    for bad in ("", "xyz", "-5", "0x", "12 34", "f" * 200):
        refused = runner.invoke(
            app, ["tak", "revoke", "--serial", bad, "--data-dir", str(tmp_path)]
        )
        assert refused.exit_code != 0, bad
        assert "--serial" in refused.output, (bad, refused.output)
    assert not revoked_path(tmp_path).exists()  # nothing written
    done = runner.invoke(app, ["tak", "revoke", "--serial", "5a3f", "--data-dir", str(tmp_path)])
    assert done.exit_code == 0, done.output
    assert "5a3f revoked" in done.output


def test_check_refuses_numbers_and_times_out_of_physical_range() -> None:
    """Before the ranges, --cep-m 1e308 went to the server (a 500 there) and a --time of
    year 1 was sent as given; now each is a usage error naming the flag, nothing sent."""
    runner = CliRunner()
    base = ["check", "--token", "t", "--url", NOWHERE, "--unit", "u"]
    for extra, flag in (
        (["--lat", "48", "--lon", "35", "--cep-m", "1e308"], "--cep-m"),
        (["--lat", "91", "--lon", "35"], "--lat"),
        (["--lat", "48", "--lon", "-181"], "--lon"),
        (["--lat", "48", "--lon", "35", "--time", "0001-01-01T00:00:00+14:00"], "--time"),
        (["--lat", "48", "--lon", "35", "--time", "9999-12-31T23:59:59-14:00"], "--time"),
    ):
        result = runner.invoke(app, [*base, *extra])
        assert result.exit_code == 2, result.output
        assert flag in result.output
        assert "could not reach" not in result.output
