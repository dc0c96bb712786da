"""Rate limits for plain-port (unauthenticated) CoT reports: per uid and per source address.

Each plain report the gateway stores costs an event, a report row and an audit link (about
3.3 KB); without a bound one sender could fill the disk (issue 15, finding 10). Only reports
that would change an asset's reach are stored at all (``tak/ingest.py``); these
buckets bound how often even those may come, whatever the sender does
(docs/design/security.md, "TAK uids and plain-port reports").
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

#: Per uid: one report every 5 s sustained, 5 at once. ATAK reports its position every few
#: seconds at most; a plain report only widens, so a slower pace loses nothing a check needs.
UID_PER_S = 0.2
UID_BURST = 5.0
#: Per source address (whatever its port): 20 reports a second sustained, 100 at once — a
#: legacy gateway relaying a few dozen tracks fits; a flood of forged uids does not.
SOURCE_PER_S = 20.0
SOURCE_BURST = 100.0
#: How many keys each table remembers; the least recently used is forgotten first (it then
#: starts again from a full bucket: the bound holds per key while it is remembered).
MAX_KEYS = 10_000


@dataclass
class _Bucket:
    tokens: float
    at: float


class Buckets:
    """Token buckets by key, at most :data:`MAX_KEYS` remembered."""

    def __init__(
        self, per_s: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.per_s = per_s
        self.burst = burst
        self.clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def _bucket(self, key: str) -> _Bucket:
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.burst, now)
            if len(self._buckets) > MAX_KEYS:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.per_s)
            bucket.at = now
        return bucket

    def has(self, key: str) -> bool:
        return self._bucket(key).tokens >= 1.0

    def take(self, key: str) -> None:
        self._bucket(key).tokens -= 1.0


class PlainLimits:
    """Whether a plain report from ``source`` for ``uid`` may be stored now; call under the
    service's write lock (the ingest's)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.by_uid = Buckets(UID_PER_S, UID_BURST, clock)
        self.by_source = Buckets(SOURCE_PER_S, SOURCE_BURST, clock)

    def admit(self, source: str, uid: str) -> str | None:
        """``None`` (and one token of each taken), or which limit refused it."""
        if not self.by_source.has(source):
            return "source"
        if not self.by_uid.has(uid):
            return "uid"
        self.by_source.take(source)
        self.by_uid.take(uid)
        return None
