"""The answer to a check, exactly in the shape of the contract.

Every key is always present. A match the asker may not see in detail carries
its party, the contact and ``details_withheld`` and nothing else: the other keys
are null or empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from deconfliction.domain.features import FeatureConflict

Verdict = Literal["HOLD", "NO_KNOWN_MATCH"]


@dataclass(frozen=True, slots=True)
class OwnerResponse:
    response: str
    by: str
    at: str

    def to_dict(self) -> dict[str, str]:
        return {"response": self.response, "by": self.by, "at": self.at}


@dataclass(slots=True)
class Match:
    kind: str | None
    id: str | None
    party_id: str
    reasons: tuple[str, ...]
    reason_codes: tuple[str, ...]
    feature_conflicts: tuple[FeatureConflict, ...] = ()
    stale: bool = False
    details_withheld: bool = False
    contact: str | None = None
    owner_response: OwnerResponse | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "party_id": self.party_id,
            "reasons": list(self.reasons),
            "reason_codes": list(self.reason_codes),
            "feature_conflicts": [c.to_dict() for c in self.feature_conflicts],
            "stale": self.stale,
            "details_withheld": self.details_withheld,
            "contact": self.contact,
            "owner_response": self.owner_response.to_dict() if self.owner_response else None,
        }


@dataclass(frozen=True, slots=True)
class CoverageGap:
    party_id: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"party_id": self.party_id, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class CheckResult:
    verdict: Verdict
    matches: tuple[Match, ...]
    match_count: int
    valid_until: str
    coverage_gaps: tuple[CoverageGap, ...]
    evaluated_at: str
    #: Internal, not serialised: ids of every asset matched (for owner notification).
    matched_asset_ids: tuple[str, ...] = field(default=(), compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The contract's answer, without ``id`` (the service assigns it)."""
        return {
            "verdict": self.verdict,
            "matches": [m.to_dict() for m in self.matches],
            "match_count": self.match_count,
            "valid_until": self.valid_until,
            "coverage_gaps": [g.to_dict() for g in self.coverage_gaps],
            "evaluated_at": self.evaluated_at,
        }
