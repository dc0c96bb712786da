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

import numpy as np
import numpy.typing as npt

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


ReleaseKey = tuple[str | None, tuple[str, ...] | None]


class Snapshot:
    """One state of the assets, their types and newest reports; never changed once made
    (a newer state is a new Snapshot), so requests read it without a lock. Its positions as
    numpy arrays are built on first use, for the bounding box and releasability filters."""

    def __init__(
        self,
        seq: int,
        assets: dict[str, AssetInfo],
        types: dict[str, dict[str, Any]],
        latest: dict[str, dict[str, Any]],
    ) -> None:
        self.seq = seq
        self.assets = assets
        self.types = types
        self.latest = latest
        self._arrays: Arrays | None = None

    def arrays(self) -> Arrays:
        if self._arrays is None:  # two threads building it at once is harmless
            self._arrays = Arrays.of(self)
        return self._arrays


@dataclass(frozen=True, slots=True)
class Arrays:
    """Placed assets (a newest report and a registration) as parallel arrays."""

    ids: list[str]
    lat: npt.NDArray[np.float64]
    lon: npt.NDArray[np.float64]
    #: Index into ``keys``: who may see the asset is decided once per (owner, list).
    key: npt.NDArray[np.int64]
    keys: list[ReleaseKey]

    @classmethod
    def of(cls, snap: Snapshot) -> Arrays:
        ids: list[str] = []
        lat: list[float] = []
        lon: list[float] = []
        key: list[int] = []
        code_of: dict[ReleaseKey, int] = {}
        for asset_id, row in snap.latest.items():
            info = snap.assets.get(asset_id)
            if info is None:  # reported, then deleted: not placed
                continue
            rel = info.releasable_to
            k = (info.party_id, tuple(rel) if isinstance(rel, list) else None)
            code = code_of.get(k)
            if code is None:
                code = code_of[k] = len(code_of)
            ids.append(asset_id)
            lat.append(float(row["lat"]))
            lon.append(float(row["lon"]))
            key.append(code)
        return cls(
            ids,
            np.asarray(lat, dtype=np.float64),
            np.asarray(lon, dtype=np.float64),
            np.asarray(key, dtype=np.int64),
            list(code_of),
        )


class AssetPositions:
    """The newest :class:`Snapshot`, brought up to the store's event ``seq`` on demand."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.snapshot = Snapshot(-1, {}, {}, {})

    def current(self, store: Store) -> Snapshot:
        """The snapshot as of the store's newest event."""
        with self._lock:
            head = store.last_event_seq()
            snap = self.snapshot
            if head == snap.seq:
                return snap
            fresh = None
            if snap.seq >= 0 and head - snap.seq <= REPLAY_LIMIT:
                fresh = self._replay(store, snap, head)
            self.snapshot = fresh or self._read_all(store, head)
            return self.snapshot

    def _read_all(self, store: Store, head: int) -> Snapshot:
        # ``head`` was read first: whatever is written meanwhile is applied again next time
        # (applying a report twice changes nothing).
        assets = {
            s.id: AssetInfo(s.party_id, s.data.get("releasable_to"), s.data)
            for s in store.iter_all("asset")
        }
        types = {s.id: s.data for s in store.iter_all("equipment_type")}
        latest: dict[str, dict[str, Any]] = {}
        for row in store.latest_reports():
            have = latest.get(row["asset_id"])
            if have is None or better(row, have):
                latest[row["asset_id"]] = row
        return Snapshot(head, assets, types, latest)

    def _replay(self, store: Store, snap: Snapshot, head: int) -> Snapshot | None:
        """``snap`` with the events up to ``head`` applied; None when a full read is needed."""
        after = snap.seq
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
                    return None
                if event.kind == "report":
                    if event.payload is None:
                        continue  # purged by a retention policy: nothing to show
                    fields = event.payload.get("fields") or REPORT_FIELDS
                    pending.extend(
                        dict(zip(fields, row, strict=True)) for row in event.payload["rows"]
                    )
            else:
                continue
            break
        if not pending:
            return Snapshot(head, snap.assets, snap.types, snap.latest)
        latest = dict(snap.latest)  # copy on write: readers of ``snap`` are not disturbed
        for row in pending:
            have = latest.get(row["asset_id"])
            if have is None or better(row, have):
                latest[row["asset_id"]] = row
        return Snapshot(head, snap.assets, snap.types, latest)
