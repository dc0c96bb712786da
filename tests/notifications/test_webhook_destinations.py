"""The webhook destination policy over every refused range (docs/design/security.md, "Webhook
destinations"): each range's edges just inside and just outside, IPv4 and IPv6, the IPv6
forms that carry an IPv4 address, the operator's allow-list, and the host spellings a URL may
use at registration."""

from __future__ import annotations

import re
from ipaddress import ip_address, ip_network
from pathlib import Path

import pytest

from deconfliction.notifications.webhook_destinations import (
    DestinationPolicy,
    address_literal,
    parse_allow_list,
)

pytestmark = pytest.mark.unit

OK, REFUSED = "allowed", "refused"

#: (address, verdict with no allow-list). Outside-edge addresses are public unicast.
TABLE: list[tuple[str, str]] = [
    # "this network" 0.0.0.0/8, unspecified
    ("0.0.0.0", REFUSED),
    ("0.255.255.255", REFUSED),
    ("1.0.0.1", OK),
    # private 10/8
    ("9.255.255.255", OK),
    ("10.0.0.0", REFUSED),
    ("10.255.255.255", REFUSED),
    ("11.0.0.0", OK),
    # carrier-grade NAT 100.64/10
    ("100.63.255.255", OK),
    ("100.64.0.0", REFUSED),
    ("100.127.255.255", REFUSED),
    ("100.128.0.0", OK),
    # loopback 127/8
    ("126.255.255.255", OK),
    ("127.0.0.0", REFUSED),
    ("127.0.0.1", REFUSED),
    ("127.255.255.255", REFUSED),
    ("128.0.0.0", OK),
    # link-local 169.254/16 (cloud metadata)
    ("169.253.255.255", OK),
    ("169.254.0.0", REFUSED),
    ("169.254.169.254", REFUSED),
    ("169.254.255.255", REFUSED),
    ("169.255.0.0", OK),
    # private 172.16/12
    ("172.15.255.255", OK),
    ("172.16.0.0", REFUSED),
    ("172.31.255.255", REFUSED),
    ("172.32.0.0", OK),
    # IETF protocol assignments 192.0.0/24, documentation 192.0.2/24
    ("191.255.255.255", OK),
    ("192.0.0.0", REFUSED),
    ("192.0.0.255", REFUSED),
    ("192.0.1.0", OK),
    ("192.0.2.0", REFUSED),
    ("192.0.2.255", REFUSED),
    ("192.0.3.0", OK),
    # 6to4 relay anycast 192.88.99/24
    ("192.88.98.255", OK),
    ("192.88.99.0", REFUSED),
    ("192.88.99.255", REFUSED),
    ("192.88.100.0", OK),
    # private 192.168/16
    ("192.167.255.255", OK),
    ("192.168.0.0", REFUSED),
    ("192.168.255.255", REFUSED),
    ("192.169.0.0", OK),
    # benchmarking 198.18/15, documentation 198.51.100/24 and 203.0.113/24
    ("198.17.255.255", OK),
    ("198.18.0.0", REFUSED),
    ("198.19.255.255", REFUSED),
    ("198.20.0.0", OK),
    ("198.51.99.255", OK),
    ("198.51.100.0", REFUSED),
    ("198.51.100.255", REFUSED),
    ("198.51.101.0", OK),
    ("203.0.112.255", OK),
    ("203.0.113.0", REFUSED),
    ("203.0.113.255", REFUSED),
    ("203.0.114.0", OK),
    # multicast 224/4, reserved 240/4, limited broadcast
    ("223.255.255.255", OK),
    ("224.0.0.0", REFUSED),
    ("224.0.0.251", REFUSED),
    ("239.255.255.255", REFUSED),
    ("240.0.0.0", REFUSED),
    ("255.255.255.254", REFUSED),
    ("255.255.255.255", REFUSED),
    ("8.8.8.8", OK),
    # IPv6: unspecified, loopback, IPv4-compatible (deprecated: refused whatever it carries)
    ("::", REFUSED),
    ("::1", REFUSED),
    ("::2", REFUSED),
    ("::127.0.0.1", REFUSED),
    ("::8.8.8.8", REFUSED),
    # IPv4-mapped: judged by the IPv4 address inside
    ("::ffff:0.0.0.0", REFUSED),
    ("::ffff:127.0.0.1", REFUSED),
    ("::ffff:10.0.0.1", REFUSED),
    ("::ffff:100.64.0.1", REFUSED),
    ("::ffff:169.254.169.254", REFUSED),
    ("::ffff:224.0.0.1", REFUSED),
    ("::ffff:255.255.255.255", REFUSED),
    ("::ffff:8.8.8.8", OK),
    # IPv4-translated (SIIT, deprecated form)
    ("::ffff:0:127.0.0.1", REFUSED),
    ("::ffff:0:8.8.8.8", REFUSED),
    # NAT64 64:ff9b::/96 by the IPv4 inside; local-use NAT64 64:ff9b:1::/48 refused
    ("64:ff9b::7f00:1", REFUSED),
    ("64:ff9b::a00:1", REFUSED),
    ("64:ff9b::a9fe:a9fe", REFUSED),
    ("64:ff9b::808:808", OK),
    ("64:ff9b:1::", REFUSED),
    ("64:ff9b:1:ffff:ffff:ffff:ffff:ffff", REFUSED),
    # 6to4 2002::/16 by the IPv4 inside
    ("2002:7f00:1::", REFUSED),
    ("2002:a00:1::1", REFUSED),
    ("2002:c0a8:101::1", REFUSED),
    ("2002:c058:6301::1", REFUSED),
    ("2002:808:808::1", OK),
    # discard-only 100::/64; IETF protocol assignments 2001::/23 (Teredo 2001::/32 in it)
    ("100::1", REFUSED),
    ("2001::", REFUSED),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", REFUSED),
    ("2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", REFUSED),
    ("2001:200::1", OK),
    # documentation 2001:db8::/32 and 3fff::/20
    ("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", OK),
    ("2001:db8::", REFUSED),
    ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", REFUSED),
    ("2001:db9::", OK),
    ("3fff::", REFUSED),
    ("3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", REFUSED),
    ("3fff:1000::1", OK),
    # unique local fc00::/7 (its neighbours are reserved, refused as well)
    ("fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", REFUSED),
    ("fc00::", REFUSED),
    ("fd12:3456:789a::1", REFUSED),
    ("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", REFUSED),
    # link-local fe80::/10 (also with a zone), site-local fec0::/10, multicast ff00::/8
    ("fe80::", REFUSED),
    ("fe80::1%eth0", REFUSED),
    ("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", REFUSED),
    ("fec0::1", REFUSED),
    ("ff02::1", REFUSED),
    ("ff0e::101", REFUSED),
    ("2606:4700:4700::1111", OK),
    ("2a00:1450:4001::1", OK),
]


@pytest.mark.parametrize(("address", "verdict"), TABLE)
def test_every_internal_range_is_refused_and_its_neighbours_are_not(
    address: str, verdict: str
) -> None:
    why = DestinationPolicy().refusal(ip_address(address))
    assert (OK if why is None else REFUSED) == verdict, (address, why)


#: (address, allow-list, verdict): the operator's networks override, and only those.
ALLOWED: list[tuple[str, str, str]] = [
    ("127.0.0.1", "127.0.0.0/8", OK),
    ("127.255.255.255", "127.0.0.0/8", OK),
    ("127.0.0.1", "10.0.0.0/8", REFUSED),
    ("10.1.2.3", "10.0.0.0/8", OK),
    ("11.0.0.1", "10.0.0.0/8", OK),  # public anyway
    ("192.168.1.127", "192.168.1.0/25", OK),
    ("192.168.1.128", "192.168.1.0/25", REFUSED),
    ("169.254.169.254", "10.0.0.0/8", REFUSED),
    ("169.254.169.254", "169.254.169.254/32", OK),
    ("169.254.169.253", "169.254.169.254", REFUSED),
    ("::ffff:127.0.0.1", "127.0.0.0/8", OK),  # the same destination as 127.0.0.1
    ("64:ff9b::a00:1", "10.0.0.0/8", OK),
    ("::1", "127.0.0.0/8", REFUSED),  # another family: allow ::1/128 for it
    ("::1", "::1/128", OK),
    ("fd00::1", "fd00::/8", OK),
    ("fd00::1", "fc00::/8", REFUSED),
    ("0.0.0.0", "127.0.0.0/8", REFUSED),
    ("100.64.0.1", "100.64.0.0/10", OK),
]


@pytest.mark.parametrize(("address", "allow", "verdict"), ALLOWED)
def test_the_allow_list_lets_only_its_networks_through(
    address: str, allow: str, verdict: str
) -> None:
    policy = DestinationPolicy(parse_allow_list([allow]))
    why = policy.refusal(ip_address(address))
    assert (OK if why is None else REFUSED) == verdict, (address, allow, why)


#: A URL's host as the client reads it (``httpx.URL(url).host``), at registration.
HOSTS: list[tuple[str, str | None]] = [
    ("127.0.0.1", "127.0.0.1"),
    ("127.1", "127.0.0.1"),
    ("0x7f.0.0.1", "127.0.0.1"),
    ("0177.0.0.1", "127.0.0.1"),
    ("2130706433", "127.0.0.1"),
    ("0", "0.0.0.0"),
    ("0.0.0.0", "0.0.0.0"),
    ("::1", "::1"),
    ("[::1]", "::1"),
    ("::ffff:7f00:1", "::ffff:127.0.0.1"),
    ("fe80::1%25eth0", "fe80::1%eth0"),
    ("169.254.169.254.", "169.254.169.254"),
    ("example.com", None),
    ("cafe.example", None),
    ("10.example", None),
    ("hooks.example.test", None),
]


@pytest.mark.parametrize(("host", "address"), HOSTS)
def test_every_spelling_of_an_address_is_read_as_that_address(
    host: str, address: str | None
) -> None:
    assert address_literal(host) == (None if address is None else ip_address(address))


@pytest.mark.parametrize(
    ("host", "allow", "verdict"),
    [
        ("127.1", "", REFUSED),
        ("2130706433", "", REFUSED),
        ("[::ffff:127.0.0.1]", "", REFUSED),
        ("localhost", "", REFUSED),
        ("LOCALHOST.", "", REFUSED),
        ("api.localhost", "", REFUSED),
        ("localhost", "127.0.0.0/8", OK),
        ("127.1", "127.0.0.0/8", OK),
        ("8.8.8.8", "", OK),
        # Names are judged after resolution, when delivering.
        ("hooks.example.test", "", OK),
        ("localhost.example.com", "", OK),
    ],
)
def test_registration_refuses_literals_and_localhost_names(
    host: str, allow: str, verdict: str
) -> None:
    why = DestinationPolicy(parse_allow_list([allow])).registration_refusal(host)
    assert (OK if why is None else REFUSED) == verdict, (host, why)


def test_the_allow_list_reads_repeats_and_comma_lists_and_names_a_bad_value() -> None:
    got = parse_allow_list(["10.0.0.0/8, 192.168.1.0/24", " fd00::/8 ", "10.9.8.7/16", "::1"])
    assert got == (
        ip_network("10.0.0.0/8"),
        ip_network("192.168.1.0/24"),
        ip_network("fd00::/8"),
        ip_network("10.9.0.0/16"),
        ip_network("::1/128"),
    )
    with pytest.raises(ValueError, match=re.escape("'10.0.0.0/33'")):
        parse_allow_list(["127.0.0.0/8,10.0.0.0/33"])
    with pytest.raises(ValueError, match="'intranet'"):
        parse_allow_list(["intranet"])


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["--webhook-allow", "10.0.0.0/33"], {}, "10.0.0.0/33"),
        (["--webhook-allow", "127.0.0.0/8", "--webhook-allow", "not-a-net"], {}, "not-a-net"),
        ([], {"DECONFLICTION_WEBHOOK_ALLOW": "10.0.0.0/8,example.org"}, "example.org"),
    ],
)
def test_serve_refuses_a_bad_allow_list_with_exit_2_naming_it(
    tmp_path: Path, args: list[str], env: dict[str, str], named: str
) -> None:
    from typer.testing import CliRunner

    from deconfliction.cli import app

    data_dir = tmp_path / "data"
    result = CliRunner().invoke(
        app, ["serve", "--port", "0", "--data-dir", str(data_dir), *args], env=env
    )
    assert result.exit_code == 2, result.output
    assert "--webhook-allow" in result.output and named in result.output, result.output
    assert not data_dir.exists()  # refused before anything was opened or created
