"""``serve --tile-origin``: the origins a map tile server may have, parsed strictly (each one
goes into the page's Content-Security-Policy header verbatim), and the CLI's refusal of a bad
one (exit 2, naming the value, before anything is opened). docs/design/security.md, "The web UI
renders data as text"."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deconfliction.cli import app
from deconfliction.service.tile_origins import parse_tile_origin, parse_tile_origins

pytestmark = pytest.mark.unit

#: Accepted values and the origin each becomes (as a browser writes ``URL.origin``).
GOOD = [
    ("http://10.0.0.5:8080", "http://10.0.0.5:8080"),
    ("http://127.0.0.1:1", "http://127.0.0.1:1"),
    ("https://tiles.cell.lan", "https://tiles.cell.lan"),
    ("HTTP://Tiles.Cell.LAN:8080", "http://tiles.cell.lan:8080"),
    ("http://10.0.0.5:80", "http://10.0.0.5"),  # the default port dropped
    ("https://tiles.lan:443", "https://tiles.lan"),
    ("http://tiles.lan:443", "http://tiles.lan:443"),  # not http's default
    ("https://tiles.lan:80", "https://tiles.lan:80"),
    ("http://localhost:65535", "http://localhost:65535"),
    ("http://xn--tiles-fra.example", "http://xn--tiles-fra.example"),  # IDN as punycode
    ("http://a-b.c-d.e", "http://a-b.c-d.e"),
]

#: Refused values (each must be named in the error).
BAD = [
    "",  # nothing
    "10.0.0.5:8080",  # no scheme
    "//10.0.0.5:8080",
    "ftp://10.0.0.5",
    "javascript://x",
    "ws://10.0.0.5:8080",  # a connect-src scheme, never img-src
    "data:",
    "http://",  # no host
    "http://10.0.0.5:8080/",  # a path, even "/"
    "http://10.0.0.5:8080/tiles",
    "http://10.0.0.5:8080/{z}/{x}/{y}.png",
    "http://10.0.0.5?x=1",
    "http://10.0.0.5#f",
    "http://user@10.0.0.5",
    "http://user:pw@10.0.0.5",
    "*",
    "http://*",
    "http://*.lan",
    "https://*:443",
    "http://10.0.0.5:*",
    "'self'",
    "'unsafe-inline'",
    "http://a.lan 'unsafe-eval'",  # a second source through a space
    "http://a.lan; script-src *",  # a second directive through a semicolon
    "http://a.lan;",
    'http://"a.lan"',
    "http://a\tlan",
    "http://a.lan\r\nX-Evil: 1",  # a header split
    "http://10.0.0.5:0",
    "http://10.0.0.5:65536",
    "http://10.0.0.5:123456",
    "http://10.0.0.5:",
    "http://10.0.0.5:-1",
    "http://10.0.0.5:8o",
    "http://[::1]:8080",  # a CSP source cannot name an IPv6 literal
    "http://[fe80::1%25eth0]",
    "http://10.0.0",  # read as an IPv4 address by a browser, not written as one
    "http://10.1",
    "http://167772165",
    "http://010.0.0.5",
    "http://0x0a.0.0.5",
    "http://tiles.0x10",
    "http://256.0.0.1",
    "http://tiles.lan.",  # a trailing dot
    "http://tiles..lan",
    "http://-tiles.lan",
    "http://tiles-.lan",
    "http://tiles_1.lan",
    "http://tiles.lan\\x",
    "http://tïles.lan",  # not ASCII: give the punycode
    "http://" + "a" * 64 + ".lan",  # a label too long
    "http://" + "a." * 150 + "lan",
    "http://a.lan,http://b.lan",  # one value at a time here (the list parser splits)
]


@pytest.mark.parametrize(("value", "origin"), GOOD)
def test_an_origin_is_accepted_and_normalised(value: str, origin: str) -> None:
    assert parse_tile_origin(value) == origin


@pytest.mark.parametrize("value", BAD)
def test_anything_else_is_refused_naming_the_value(value: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_tile_origin(value)
    assert repr(value) in str(refused.value)
    assert "is not a tile origin" in str(refused.value)


def test_a_list_is_split_on_commas_normalised_and_deduplicated() -> None:
    values = ["http://10.0.0.5:8080, HTTPS://Tiles.LAN:443", "", "http://10.0.0.5:8080"]
    assert parse_tile_origins(values) == ("http://10.0.0.5:8080", "https://tiles.lan")
    assert parse_tile_origins([]) == ()
    with pytest.raises(ValueError, match=re.escape("'http://b.lan/x'")):
        parse_tile_origins(["http://a.lan,http://b.lan/x"])


def test_the_reason_is_told() -> None:
    reasons = {
        "ftp://a.lan": "http or https",
        "http://a.lan/": "no path",
        "http://[::1]": "IPv6",
        "http://a.lan:70000": "1 to 65535",
        "http://*.lan": "DNS name",
    }
    for value, reason in reasons.items():
        with pytest.raises(ValueError, match=reason):
            parse_tile_origin(value)


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["--tile-origin", "http://10.0.0.5:8080/tiles"], {}, "http://10.0.0.5:8080/tiles"),
        (
            ["--tile-origin", "http://10.0.0.5:8080", "--tile-origin", "http://*.lan"],
            {},
            "http://*.lan",
        ),
        ([], {"DECONFLICTION_TILE_ORIGINS": "http://a.lan,ftp://b.lan"}, "ftp://b.lan"),
        ([], {"DECONFLICTION_TILE_ORIGINS": "http://a.lan;script-src"}, "script-src"),
    ],
)
def test_serve_refuses_a_bad_tile_origin_with_exit_2_naming_it(
    tmp_path: Path, args: list[str], env: dict[str, str], named: str
) -> None:
    data_dir = tmp_path / "data"
    result = CliRunner().invoke(
        app, ["serve", "--port", "0", "--data-dir", str(data_dir), *args], env=env
    )
    assert result.exit_code == 2, result.output
    assert "--tile-origin" in result.output and named in result.output, result.output
    assert not data_dir.exists()  # refused before anything was opened or created
