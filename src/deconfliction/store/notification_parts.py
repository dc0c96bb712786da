"""The big parts of notification payloads, stored once by content.

An announcement carries the recognition card and, where releasable, the movement's route;
a briefing carries the card. A movement across 10,000 AORs wrote the same card 20,000
times and the same route 10,000 times — a route of a few hundred vertices is several
kilobytes, so tens of megabytes for one movement. The store keeps each such value once, in
``notification_parts`` (migration 7), under the SHA-256 of its JSON, and the payload holds a
reference ``{"$part": <digest>}``. Readers never see references: the store puts the values
back when it reads a notification (:meth:`PartsReader.expand`).

The audit event of a batch lists its rows as stored (with the references) and the parts
they use (``"parts": {digest: value}``), so the log stays self-contained, and the digest
ties each reference to exactly one value.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from deconfliction.store.backend_sql import BackendSQL
from deconfliction.store.jsontext import dumps, loads

#: The payload keys whose values are stored once, by content.
SHARED_KEYS: tuple[str, ...] = ("card", "geometry")
#: The key of a reference.
REF = "$part"
#: Digests per ``IN (...)`` of a read.
_PAGE = 500
#: Parts kept in memory (they never change; a bound in case of many movements).
_CACHE_MAX = 10_000


def factor(payloads: Sequence[dict[str, Any]]) -> tuple[list[str], dict[str, str]]:
    """Each payload's stored JSON, its shared parts replaced by references, and the parts
    (digest → JSON). A value shared by many payloads (one card object for a whole fan-out)
    is serialised and digested once."""
    parts: dict[str, str] = {}
    refs: dict[int, dict[str, str]] = {}  # id(value) → its reference (values live meanwhile)
    stored_jsons = []
    for payload in payloads:
        stored = payload
        for key in SHARED_KEYS:
            value = payload.get(key)
            if not isinstance(value, dict) or not value:
                continue
            ref = refs.get(id(value))
            if ref is None:
                text = dumps(value)
                digest = hashlib.sha256(text.encode()).hexdigest()[:32]
                parts[digest] = text
                ref = refs[id(value)] = {REF: digest}
            if stored is payload:
                stored = dict(payload)
            stored[key] = ref
        stored_jsons.append(dumps(stored))
    return stored_jsons, parts


def _ref(value: Any) -> str | None:
    if isinstance(value, dict) and len(value) == 1:
        digest = value.get(REF)
        if isinstance(digest, str):
            return digest
    return None


class PartsSQL(BackendSQL):
    """Storing and reading parts (for ``NotificationSQL``)."""

    def _store_parts(self, parts: dict[str, str]) -> None:
        """Inside a transaction: the parts not stored yet (a part is never changed)."""
        if parts:
            self._execute_many(
                "INSERT INTO notification_parts (digest, body) VALUES (?, ?) "
                "ON CONFLICT (digest) DO NOTHING",
                list(parts.items()),
            )

    def _parts_cache(self) -> dict[str, str]:
        cache: dict[str, str] | None = self.__dict__.get("_notification_parts")
        if cache is None:
            cache = self.__dict__["_notification_parts"] = {}
        return cache

    def expand(self, payloads: Iterable[dict[str, Any]]) -> None:
        """Put the shared parts back into payloads read from the store (in place)."""
        payloads = list(payloads)
        cache = self._parts_cache()
        missing = {
            digest
            for payload in payloads
            for key in SHARED_KEYS
            if (digest := _ref(payload.get(key))) is not None and digest not in cache
        }
        if missing:
            if len(cache) + len(missing) > _CACHE_MAX:
                cache.clear()
            wanted = sorted(missing)
            for start in range(0, len(wanted), _PAGE):
                page = wanted[start : start + _PAGE]
                marks = ", ".join("?" * len(page))
                for digest, body in self._fetch(
                    f"SELECT digest, body FROM notification_parts WHERE digest IN ({marks})",
                    page,
                ):
                    cache[str(digest)] = str(body)
        for payload in payloads:
            for key in SHARED_KEYS:
                digest = _ref(payload.get(key))
                if digest is not None:
                    body = cache.get(digest)
                    # Each reader gets its own copy: a caller may change what it read.
                    payload[key] = loads(body) if body is not None else None
