"""Every asset's newest report, kept in memory for the map and brought up to date from the
event log, so that ``GET /v1/map`` does not read 100k assets and reports per request.

The map is a picture, not the check: the check reads the engine. This snapshot is kept
exactly as current as the store at each request: before answering, it applies the events
written since it last looked (its own process's and other processes' writes alike). A
report event is applied row by row (the same "authenticated first, then newest" rule the
map always used); a change to an asset or a catalogue type, or a long backlog, makes it
read everything again (rare: registrations are few, reports many).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from deconfliction.store.base import REPORT_FIELDS, Store

#: Past this many events behind, reading everything again is cheaper than replaying.
REPLAY_LIMIT = 20_000
#: Event kinds that change what an asset is (not where): they trigger a full read.
_REREAD = frozenset({"asset", "equipment_type"})


@dataclass(frozen=True, slots=True)
class AssetInfo:
    party_id: str | None
    releasable_to: Any
    data: dict[str, Any]


def better(row: dict[str, Any], have: dict[str, Any]) -> bool:
    """Prefer an authenticated report over a plain one, then the newer."""
    auth_row = (row.get("source") or "authenticated") == "authenticated"
    auth_have = (have.get("source") or "authenticated") == "authenticated"
    if auth_row != auth_have:
        return auth_row
    return str(row["time"]) > str(have["time"])


class AssetPositions:
    """Assets, their types and their newest report, as of the store's event ``seq``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seq = -1
        self.assets: dict[str, AssetInfo] = {}
        self.types: dict[str, dict[str, Any]] = {}
        self.latest: dict[str, dict[str, Any]] = {}

    def current(self, store: Store) -> AssetPositions:
        """Bring the snapshot up to the store's newest event; returns itself."""
        with self._lock:
            head = store.last_event_seq()
            if head == self.seq:
                return self
            if self.seq < 0 or head - self.seq > REPLAY_LIMIT or not self._replay(store, head):
                self._read_all(store, head)
        return self

    def _read_all(self, store: Store, head: int) -> None:
        # ``head`` was read first: whatever is written meanwhile is applied again next time
        # (applying a report twice changes nothing).
        self.assets = {
            s.id: AssetInfo(s.party_id, s.data.get("releasable_to"), s.data)
            for s in store.iter_all("asset")
        }
        self.types = {s.id: s.data for s in store.iter_all("equipment_type")}
        latest: dict[str, dict[str, Any]] = {}
        for row in store.latest_reports():
            have = latest.get(row["asset_id"])
            if have is None or better(row, have):
                latest[row["asset_id"]] = row
        self.latest = latest
        self.seq = head

    def _replay(self, store: Store, head: int) -> bool:
        """Apply the events up to ``head``; False when a full read is needed instead."""
        after = self.seq
        pending: list[dict[str, Any]] = []
        while after < head:
            events = store.events(after, 1000)
            if not events:
                break
            for event in events:
                if event.seq > head:
                    break
                after = event.seq
                if event.kind in _REREAD:
                    return False
                if event.kind == "report":
                    fields = event.payload.get("fields") or REPORT_FIELDS
                    pending.extend(
                        dict(zip(fields, row, strict=True)) for row in event.payload["rows"]
                    )
            else:
                continue
            break
        for row in pending:
            have = self.latest.get(row["asset_id"])
            if have is None or better(row, have):
                self.latest[row["asset_id"]] = row
        self.seq = head
        return True
