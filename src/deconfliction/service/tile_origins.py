"""Map tile origins the operator allows (``serve --tile-origin``): parsed strictly.

The web UI's Content-Security-Policy loads images from the server itself and ``data:`` URLs
only (docs/design/security.md, "The web UI renders data as text"). A deployment whose tile server
runs on another address (an offline MBTiles server on the cell's LAN) names that server's
origin here, and it is added to ``img-src`` — and to nothing else.

Each value goes into a response header verbatim, so it is held to the smallest grammar that
is both a URL origin (what the page compares a tile URL against: ``URL.origin``) and a
CSP host-source: ``http`` or ``https``, ``://``, a host, an optional port, nothing else. No
path (not even ``/``), query, fragment, user, wildcard, quote, semicolon, comma or space.
The host is an IPv4 address or a DNS name of ASCII letters, digits and hyphens; an IPv6
literal cannot be named in a CSP source expression, so it is refused with that reason.
Scheme and host are lower-cased and a default port (80 for http, 443 for https) dropped,
as browsers serialise an origin, so the page's comparison is a plain string equality.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from ipaddress import IPv4Address

_SHAPE = re.compile(r"(?P<scheme>[A-Za-z]+)://(?P<host>[^:/]*)(?::(?P<port>[0-9]{1,5}))?")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_DEFAULT_PORT = {"http": 80, "https": 443}
_EXAMPLE = "e.g. http://10.0.0.5:8080"


def parse_tile_origins(values: Iterable[str]) -> tuple[str, ...]:
    """``--tile-origin`` values (each one origin or a comma list of them), normalised, in
    order, without duplicates. A ValueError names the value that is not an origin."""
    out: list[str] = []
    for value in values:
        for item in value.split(","):
            item = item.strip()
            if not item:
                continue
            origin = parse_tile_origin(item)
            if origin not in out:
                out.append(origin)
    return tuple(out)


def parse_tile_origin(value: str) -> str:
    """One origin, normalised (``HTTP://Tiles.LAN:80`` → ``http://tiles.lan``)."""

    def bad(why: str) -> ValueError:
        return ValueError(f"{value!r} is not a tile origin: {why} ({_EXAMPLE})")

    if len(value) > 300:
        raise bad("too long")
    if "[" in value or "]" in value:
        raise bad("an IPv6 address cannot be named in a Content-Security-Policy; give a host name")
    shape = _SHAPE.fullmatch(value)
    if shape is None:
        raise bad(
            "give scheme://host[:port] only: no path (not even /), query, user, wildcard, "
            "quote, semicolon or space"
        )
    scheme = shape["scheme"].lower()
    if scheme not in _DEFAULT_PORT:
        raise bad("the scheme must be http or https")
    host = _host(shape["host"].lower())
    if host is None:
        raise bad("the host must be an IPv4 address or a DNS name (letters, digits, hyphens)")
    if shape["port"] is None:
        return f"{scheme}://{host}"
    port = int(shape["port"])
    if not 1 <= port <= 65535:
        raise bad("the port must be 1 to 65535")
    if port == _DEFAULT_PORT[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _host(host: str) -> str | None:
    """The host as a browser serialises it, or None when it is not one this accepts."""
    if not host or len(host) > 253:
        return None
    labels = host.split(".")
    if not all(_LABEL.fullmatch(label) for label in labels):
        return None  # empty labels (a trailing dot), "*", "_", non-ASCII ...
    if labels[-1].isdigit() or re.fullmatch(r"0x[0-9a-f]*", labels[-1]):
        # A browser reads a host ending in a number as an IPv4 address (``10.1``, ``0x0a``,
        # ``010.0.0.1`` forms included): only the four-part dotted form as it is serialised.
        try:
            address = IPv4Address(host)
        except ValueError:
            return None
        return str(address) if str(address) == host else None
    return host
