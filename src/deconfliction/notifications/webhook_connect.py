"""Reaching a webhook's endpoint at an address that was checked, and only there.

For each delivery round of a webhook the host is resolved once (:class:`Resolver`, the
system's by default; tests inject their own answers), every answer is judged by the
:class:`DestinationPolicy`, and the connection goes to the first allowed address, *that*
address: the URL's host is replaced by it, the ``Host`` header and the TLS server name (SNI,
and the certificate check) stay the name's. A second DNS answer (rebinding) therefore never
decides where a request goes, and the transport refuses any request whose host is not the
pinned, allowed address (a last check as the connection is made). Redirects are never
followed; proxies from the environment are never used (they would connect elsewhere).

What the caller is told is :data:`REFUSED` or ``delivery failed`` with the HTTP status at
most; the reason, the address and the exception go to the server log only
(docs/design/security.md, "Webhook destinations").
"""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Sequence
from ipaddress import ip_address
from typing import Protocol

import httpx

from deconfliction.notifications.webhook_destinations import (
    Address,
    DestinationPolicy,
    address_literal,
)

log = logging.getLogger("deconfliction.webhooks")

#: The caller's words when no address of the host may be reached. A name that does not
#: resolve gets the same words as one that resolves inside, so that the answer does not
#: tell which internal names exist.
REFUSED = "refused: the destination is not an address webhooks may reach"
DELIVERY_FAILED = "delivery failed"


def failed_with_status(status: int) -> str:
    return f"{DELIVERY_FAILED} (HTTP {status})"


class DeliveryFailed(Exception):
    """A delivery did not succeed: ``shown`` is what the caller may read (``last_error``),
    ``detail`` what only the server log gets."""

    def __init__(self, shown: str, detail: str) -> None:
        super().__init__(detail)
        self.shown = shown
        self.detail = detail


class DestinationRefused(DeliveryFailed):
    def __init__(self, detail: str) -> None:
        super().__init__(REFUSED, detail)


class Resolver(Protocol):
    """A host name's addresses (empty when it has none)."""

    def resolve(self, host: str, port: int) -> Sequence[Address]: ...


class SystemResolver:
    """``getaddrinfo``: what the host's own resolver (``/etc/hosts``, DNS) answers. Called in
    the dispatcher's worker threads, so a slow answer holds one worker only."""

    def resolve(self, host: str, port: int) -> Sequence[Address]:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return ()
        out: list[Address] = []
        for *_, sockaddr in infos:
            try:
                address = ip_address(sockaddr[0])
            except ValueError:
                continue
            if address not in out:
                out.append(address)
        return out


class _PinnedTransport(httpx.HTTPTransport):
    """Sends a request only if its host is the pinned address and the policy still allows
    it (so no path, a redirect or a forgotten resolution included, reaches elsewhere)."""

    def __init__(
        self, address: Address, policy: DestinationPolicy, ssl_context: ssl.SSLContext
    ) -> None:
        super().__init__(verify=ssl_context, trust_env=False)
        self.address = address
        self.policy = policy

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        target = address_literal(request.url.host)
        if target != self.address:
            raise DestinationRefused(f"{request.url.host!r} is not the pinned {self.address}")
        why = self.policy.refusal(target)
        if why is not None:
            raise DestinationRefused(f"{target} is {why}")
        return super().handle_request(request)


class PinnedSession:
    """POSTs to one webhook URL over connections to one checked address."""

    def __init__(
        self,
        url: httpx.URL,
        address: Address,
        policy: DestinationPolicy,
        timeout_s: float,
        ssl_context: ssl.SSLContext,
    ) -> None:
        self.url = url
        self.address = address
        self.pinned_url = url.copy_with(host=str(address))
        self.host_header = url.netloc.decode("ascii")
        name = url.raw_host.decode("ascii")
        # The TLS server name and the certificate check are the name's, not the address's.
        self.extensions = (
            {"sni_hostname": name}
            if url.scheme == "https" and address_literal(url.host) is None
            else {}
        )
        self.client = httpx.Client(
            transport=_PinnedTransport(address, policy, ssl_context),
            timeout=timeout_s,
            follow_redirects=False,
            trust_env=False,
        )

    def post(self, content: bytes, headers: dict[str, str]) -> None:
        """POST once; a non-2xx answer or no answer raises :class:`DeliveryFailed`."""
        try:
            response = self.client.post(
                self.pinned_url,
                content=content,
                headers={**headers, "Host": self.host_header},
                extensions=self.extensions,
            )
        except httpx.HTTPError as exc:
            raise DeliveryFailed(
                DELIVERY_FAILED, f"{type(exc).__name__}: {exc} (at {self.address})"
            ) from None
        if not 200 <= response.status_code < 300:
            raise DeliveryFailed(
                failed_with_status(response.status_code),
                f"HTTP {response.status_code} from {self.address}",
            )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> PinnedSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Connector:
    """Opens a :class:`PinnedSession` for a webhook URL, or refuses it."""

    def __init__(
        self,
        policy: DestinationPolicy,
        resolver: Resolver,
        timeout_s: float,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.policy = policy
        self.resolver = resolver
        self.timeout_s = timeout_s
        self._ssl_context = ssl_context

    @property
    def ssl_context(self) -> ssl.SSLContext:
        # One context for every session (loading the CA bundle is the costly part).
        if self._ssl_context is None:
            self._ssl_context = httpx.create_ssl_context()
        return self._ssl_context

    def open(self, url: str) -> PinnedSession:
        """Resolve the URL's host, judge every answer, pin the first allowed one."""
        try:
            target = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise DestinationRefused(f"unparsable URL: {exc}") from None
        if target.scheme not in ("http", "https") or not target.host:
            raise DestinationRefused("not an http(s) URL with a host")
        port = target.port or (443 if target.scheme == "https" else 80)
        literal = address_literal(target.host)
        if literal is not None:
            answers: Sequence[Address] = (literal,)
        else:
            answers = self.resolver.resolve(target.raw_host.decode("ascii"), port)
        refusals: list[str] = []
        for address in answers:
            why = self.policy.refusal(address)
            if why is None:
                return PinnedSession(target, address, self.policy, self.timeout_s, self.ssl_context)
            refusals.append(f"{address} is {why}")
        detail = "; ".join(refusals) or "the name has no address"
        raise DestinationRefused(f"{target.host}: {detail}")
