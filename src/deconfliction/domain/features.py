"""Comparing what an observer reported with a type's recognition profile.

Features never change the verdict: they explain a match and rank matches. For
each item the observer reported, the profile agrees or conflicts; what was not
reported is unknown. Every conflict carries the cue that tells the types apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from deconfliction.domain.model import EquipmentType, Observed


@dataclass(frozen=True, slots=True)
class FeatureConflict:
    feature: str
    cue: str

    def to_dict(self) -> dict[str, str]:
        return {"feature": self.feature, "cue": self.cue}


@dataclass(frozen=True, slots=True)
class Comparison:
    agreements: tuple[str, ...]
    conflicts: tuple[FeatureConflict, ...]

    @property
    def score(self) -> int:
        """Agreements minus conflicts: ranks matches, never decides them."""
        return len(self.agreements) - len(self.conflicts)


NOT_COMPARED = Comparison((), ())


def _profile_words(kind: EquipmentType) -> str:
    p = kind.profile
    parts = [p.mobility]
    if p.axles:
        parts.append(f"{p.axles} axles")
    if p.features:
        parts.append(", ".join(p.features))
    return "; ".join(parts)


def _looks_like(kind: EquipmentType, catalogue: dict[str, EquipmentType]) -> str:
    cues = []
    for other in kind.confusable_with:
        name = catalogue[other.type_id].name if other.type_id in catalogue else other.type_id
        cues.append(f"Looks like {name}: {other.cue}")
    return (" " + " ".join(cues)) if cues else ""


def compare(
    observed: Observed, kind: EquipmentType, catalogue: dict[str, EquipmentType]
) -> Comparison:
    """Compare an observation with ``kind``'s profile."""
    profile = kind.profile
    agreements: list[str] = []
    conflicts: list[FeatureConflict] = []
    certain = observed.certainty == "certain"
    how = "seen for certain" if certain else "reported as probable"
    if observed.mobility is not None:
        if observed.mobility == profile.mobility:
            agreements.append("mobility")
        else:
            conflicts.append(
                FeatureConflict(
                    "mobility",
                    f"{kind.name} is {profile.mobility}"
                    + (f" ({profile.axles} axles)" if profile.axles else "")
                    + f", not {observed.mobility} ({how})."
                    + _looks_like(kind, catalogue),
                )
            )
    have = set(profile.features)
    for feature in observed.features:
        if feature in have:
            agreements.append(feature)
        else:
            conflicts.append(
                FeatureConflict(
                    feature,
                    f"{kind.name} has no {feature.replace('_', ' ')} ({how}); it shows: "
                    f"{_profile_words(kind)}." + _looks_like(kind, catalogue),
                )
            )
    return Comparison(tuple(agreements), tuple(conflicts))
