"""De-duplicating ``hold_on_your_asset`` notices: once per (asset, asking party) per window.

Every check that answers HOLD on another party's asset tells that party's coordination cells
(``HoldNotices.write_notices``, ``hold.py``). A stream of checks — a plain-port datagram that
widened the asset, or one unit checking the same place over and over — would flood the owner's cells
(issue 15, finding 10). The check's answer stays HOLD every time; only the notice is left out
while one about the same asset, for the same asking party, is younger than the window
(``Settings.hold_notice_window_s``, 10 minutes by default: the notice's answer deadline). Keyed
by asking party too, so that one party's checks never silence the notices of another's.
In memory, per process: after a restart, or in a second process on the same store, the first
check notifies again (docs/design/security.md, "TAK uids and plain-port reports").
"""

from __future__ import annotations

import threading

#: Entries remembered before the old ones are swept (at least; twice what the last sweep
#: kept, so that a window full of young entries is not swept at every notice).
_SWEEP_AT = 10_000
#: What :meth:`HoldNoticeWindow.told` replaced: (asset, asking party) and its time before.
Told = list[tuple[tuple[str, str | None], float | None]]


class HoldNoticeWindow:
    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._told: dict[tuple[str, str | None], float] = {}
        self._sweep_at = _SWEEP_AT
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._told)

    def due(self, asset_ids: list[str], asker_party: str | None, now: float) -> list[str]:
        """The assets whose owner has not been told of a HOLD by ``asker_party`` within
        the window (all of them when the window is 0)."""
        if self.window_s <= 0:
            return asset_ids
        with self._lock:
            return [
                a
                for a in asset_ids
                if now - self._told.get((a, asker_party), -float("inf")) >= self.window_s
            ]

    def told(self, asset_ids: list[str], asker_party: str | None, now: float) -> Told:
        """Note that the owners are told (inside the transaction that writes the notice);
        what was noted before, for :meth:`restore` if that transaction does not commit."""
        if self.window_s <= 0:
            return []
        with self._lock:
            before = [((a, asker_party), self._told.get((a, asker_party))) for a in asset_ids]
            for a in asset_ids:
                self._told[(a, asker_party)] = now
            if len(self._told) > self._sweep_at:
                self._told = {k: t for k, t in self._told.items() if now - t < self.window_s}
                # Next sweep when as many again were added: when most entries are young,
                # a sweep at every call (inside the check's transaction) cost O(n) each.
                self._sweep_at = max(_SWEEP_AT, 2 * len(self._told))
        return before

    def restore(self, before: Told) -> None:
        """Forget what :meth:`told` noted (its notice was rolled back)."""
        with self._lock:
            for key, at in reversed(before):
                if at is None:
                    self._told.pop(key, None)
                else:
                    self._told[key] = at
