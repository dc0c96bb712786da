"""Where a webhook may POST: the address policy (docs/design/security.md, "Webhook destinations").

A webhook is a request the server makes for a caller, from inside the server's network. Aimed
at loopback, a private network or a cloud's metadata address it would make the server a port
scanner for whoever may register one. So only globally reachable unicast addresses are
allowed, unless the operator allows a network (``serve --webhook-allow CIDR``).

The ranges are Python's ``ipaddress`` predicates (kept in step with IANA's special-purpose
registries) plus the few that Python 3.11's tables miss (:data:`ALSO_REFUSED`). An IPv6
address that carries an IPv4 address a router would act on (IPv4-mapped, NAT64, 6to4) is
judged by that IPv4 address, so ``::ffff:127.0.0.1`` is loopback; the deprecated forms
that carry one only nominally (IPv4-compatible, IPv4-translated) are refused outright.
No I/O here: the resolver and the connection are in ``notifications/webhook_connect.py``.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import (
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    ip_address,
    ip_network,
)
from urllib.parse import unquote

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

#: Special-purpose ranges that ``ipaddress`` (Python 3.11) counts as global or only as
#: "reserved" in some versions: refused whatever the version says.
ALSO_REFUSED: tuple[Network, ...] = (
    ip_network("100.64.0.0/10"),  # carrier-grade NAT (RFC 6598): not private, not global
    ip_network("192.0.0.0/24"),  # IETF protocol assignments (RFC 6890)
    ip_network("192.88.99.0/24"),  # 6to4 relay anycast (RFC 7526, deprecated)
    ip_network("64:ff9b:1::/48"),  # local-use NAT64 (RFC 8215)
    ip_network("2001::/23"),  # IETF protocol assignments, Teredo 2001::/32 among them
    ip_network("3fff::/20"),  # documentation (RFC 9637)
    ip_network("5f00::/16"),  # SRv6 segment identifiers (RFC 9602)
    ip_network("fec0::/10"),  # site-local (RFC 3879, deprecated)
)

#: IPv6 forms whose low 32 bits are the IPv4 address a translator or the host's stack
#: connects to: judged by that address.
_NAT64 = ip_network("64:ff9b::/96")
#: Forms that only nominally carry an IPv4 address; never a webhook's destination.
_IPV4_COMPATIBLE = ip_network("::/96")
_IPV4_TRANSLATED = ip_network("::ffff:0:0:0/96")

#: An IPv4 address in any spelling ``inet_aton`` (and so the system resolver) accepts:
#: ``127.1``, ``0x7f.0.0.1``, ``2130706433``, ``0177.0.0.1``.
_NUMERIC_HOST = re.compile(r"[0-9][0-9a-fA-FxX.]*")


def embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 address reaches through mapping, NAT64 or 6to4, if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def _why(address: Address) -> str | None:
    """Why ``address`` is refused (the server log's words), or None when it is global."""
    if isinstance(address, IPv6Address) and address.scope_id:
        return "scoped (link-local)"
    checks: tuple[tuple[str, bool], ...] = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("special-purpose", any(address in net for net in ALSO_REFUSED)),
        ("site-local", isinstance(address, IPv6Address) and address.is_site_local),
        ("not globally reachable", not address.is_global),
    )
    for reason, hit in checks:
        if hit:
            return reason
    return None


@dataclass(frozen=True)
class DestinationPolicy:
    """The refused ranges, less the networks the operator allows."""

    allow: tuple[Network, ...] = ()

    def allowed_by_operator(self, address: Address) -> bool:
        return any(address.version == net.version and address in net for net in self.allow)

    def refusal(self, address: Address) -> str | None:
        """Why a webhook may not connect to ``address`` (for the server log only), or None."""
        if self.allowed_by_operator(address):
            return None
        if isinstance(address, IPv6Address):
            inner = embedded_ipv4(address)
            if inner is not None:
                why = self.refusal(inner)
                return None if why is None else f"{why} ({inner} inside {address})"
            if address in _IPV4_COMPATIBLE and not (address.is_loopback or address.is_unspecified):
                return "IPv4-compatible"
            if address in _IPV4_TRANSLATED:
                return "IPv4-translated"
        return _why(address)

    def registration_refusal(self, host: str) -> str | None:
        """Why a URL's host is refused when the webhook is registered, or None.

        An address literal (any spelling the resolver would take as one) is judged now; so
        are ``localhost`` and ``*.localhost`` (loopback by RFC 6761). Other names are judged
        when delivering, after resolution: a name's answer may change (docs/design/security.md)."""
        literal = address_literal(host)
        if literal is not None:
            return self.refusal(literal)
        if is_localhost_name(host):
            reasons = [self.refusal(a) for a in (IPv4Address("127.0.0.1"), IPv6Address("::1"))]
            return None if None in reasons else "loopback (localhost)"
        return None


def is_localhost_name(host: str) -> bool:
    name = host.lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


def address_literal(host: str) -> Address | None:
    """The address ``host`` spells, if it is one: IPv6 (bracketed or not, with a zone) or
    IPv4 in any form the system resolver parses as an address rather than a name."""
    text = unquote(host).strip("[]").rstrip(".")
    try:
        return ip_address(text)
    except ValueError:
        pass
    if _NUMERIC_HOST.fullmatch(text):
        try:
            return IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    return None


def parse_allow_list(values: Iterable[str]) -> tuple[Network, ...]:
    """``--webhook-allow`` values (each one CIDR or a comma list of them) as networks.

    Host bits are tolerated (``10.1.2.3/8`` is ``10.0.0.0/8``); a bare address is its /32
    or /128. A ValueError names the value that is not a network."""
    out: list[Network] = []
    for value in values:
        for item in value.split(","):
            item = item.strip()
            if not item:
                continue
            try:
                out.append(ip_network(item, strict=False))
            except ValueError:
                raise ValueError(f"{item!r} is not a network (CIDR, e.g. 10.20.0.0/16)") from None
    return tuple(out)
