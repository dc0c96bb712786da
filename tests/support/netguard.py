"""Keeps an in-process test on this machine: while :func:`loopback_only` is active, any
``connect`` to a non-loopback address and any name lookup other than a loopback literal or
``localhost`` is refused (``PermissionError``, before anything leaves) and recorded.

A Python audit hook (``sys.addaudithook``) sees every socket the process opens, in every
thread (the webhook dispatcher's workers included). Hooks cannot be removed, so it is
installed once and does nothing while no test has it on.
"""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from ipaddress import ip_address
from typing import Any

_lock = threading.Lock()
_active = 0
_installed = False
#: What was refused while active (the test asserts it stayed empty).
refused: list[str] = []


def _is_loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return host is None
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not _active:
        return
    if event == "socket.connect":
        sock, address = args
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return
        target = address[0]
    elif event == "socket.getaddrinfo":
        target = args[0]
    else:
        return
    if not _is_loopback(target):
        with _lock:
            refused.append(f"{event} {target!r}")
        raise PermissionError(f"test guard: {event} to {target!r} leaves loopback")


@contextmanager
def loopback_only() -> Iterator[list[str]]:
    """The guard on for the block; yields the list of what it refused."""
    global _active, _installed
    with _lock:
        if not _installed:
            sys.addaudithook(_hook)
            _installed = True
        _active += 1
        refused.clear()
    try:
        yield refused
    finally:
        with _lock:
            _active -= 1
