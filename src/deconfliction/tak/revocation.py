"""Revoked client certificates: a list of serial numbers in the data directory.

``deconfliction tak revoke --serial S`` adds a serial to ``<data dir>/tak/revoked-serials.txt``
(one line each: the serial in hex, when, and why; written atomically, 0600, under the PKI's
file lock). The gateway reads the file again whenever it changes (a ``stat`` per check) and
refuses a revoked certificate right after the handshake, and closes the open connections
of one within seconds (:class:`~deconfliction.tak.sweeps.RevocationSweep`). A list rather
than a CRL: the CA is ours and so is the only relying party, so there is nothing to
publish; a file rather than a table: the store's schema is not the TAK side's to change.

Serials are compared as numbers, so ``5a3f``, ``5A:3F`` and ``0x5a3f`` are the same. A line
that cannot be read is logged and skipped: the rest of the list still applies.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from deconfliction.tak.pki import locked, tak_dir, write_private

log = logging.getLogger("deconfliction.tak.revocation")

REVOKED_FILE = "revoked-serials.txt"
_HEX = re.compile(r"^[0-9a-f]{1,40}$")


class SerialError(ValueError):
    """Not a certificate serial number (hexadecimal, at most 160 bits)."""


def parse_serial(text: str) -> int:
    """A serial as ``tak issue-client`` prints it (hex), with optional ``0x`` or colons."""
    cleaned = text.strip().lower().replace(":", "")
    cleaned = cleaned.removeprefix("0x")
    if not _HEX.match(cleaned):
        raise SerialError(f"{text!r} is not a certificate serial (hexadecimal, up to 40 digits)")
    return int(cleaned, 16)


def revoked_path(data_dir: Path) -> Path:
    return tak_dir(data_dir) / REVOKED_FILE


def read_revoked(path: Path) -> frozenset[int]:
    """The serials listed in ``path`` (none if there is no file)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return frozenset()
    serials = set()
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        try:
            serials.add(parse_serial(words[0]))
        except SerialError as exc:
            log.error("%s line %d skipped: %s", path, number, exc)
    return frozenset(serials)


def revoke(data_dir: Path, serial: int, now: datetime, reason: str = "") -> bool:
    """Add ``serial`` to the list; ``False`` if it was there already."""
    path = revoked_path(data_dir)
    with locked(tak_dir(data_dir)):
        if serial in read_revoked(path):
            return False
        old = path.read_bytes() if path.exists() else b"# revoked client certificates\n"
        why = " ".join(reason.split())  # one line, whatever was typed
        line = f"{serial:x}  # {now.isoformat()}{' ' + why if why else ''}\n"
        write_private(path, old + line.encode("utf-8"))
    return True


@dataclass
class Revocations:
    """The list as the gateway checks it: read again when the file changes."""

    path: Path
    _stamp: tuple[int, int, int] | None = None
    _serials: frozenset[int] = frozenset()

    @classmethod
    def of(cls, data_dir: Path) -> Revocations:
        return cls(revoked_path(data_dir))

    def serials(self) -> frozenset[int]:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._stamp, self._serials = None, frozenset()
            return self._serials
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if stamp != self._stamp:
            self._serials = read_revoked(self.path)
            self._stamp = stamp
        return self._serials

    def is_revoked(self, serial: str | None) -> bool:
        """``serial`` as ``ssl`` gives it (``getpeercert()["serialNumber"]``, hex)."""
        if not serial:
            return False
        try:
            return parse_serial(serial) in self.serials()
        except SerialError:
            return False
