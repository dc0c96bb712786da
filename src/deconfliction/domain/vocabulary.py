"""The controlled recognition vocabulary, in one place.

The default lists are exactly those of docs/design/principles.md. Deployments may extend them by
configuration (a JSON file named by ``DECONFLICTION_VOCABULARY``, or
:func:`configure`); words can be added, never removed, so data written under the
defaults stays valid everywhere.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from deconfliction.domain.errors import UnknownWordError

DEFAULT_MOBILITY: tuple[str, ...] = ("wheeled", "tracked", "foot", "static", "air", "watercraft")
DEFAULT_FEATURES: tuple[str, ...] = (
    "radar",
    "launcher",
    "turret",
    "gun",
    "antenna_mast",
    "cargo_bed",
    "dish",
    "crane",
    "trailer",
    "protective_emblem",
    "camouflage_net",
)
DEFAULT_SIZE_CLASSES: tuple[str, ...] = ("small", "medium", "large")
CERTAINTIES: tuple[str, ...] = ("probable", "certain")


@dataclass(frozen=True)
class Vocabulary:
    mobility: frozenset[str] = field(default_factory=lambda: frozenset(DEFAULT_MOBILITY))
    features: frozenset[str] = field(default_factory=lambda: frozenset(DEFAULT_FEATURES))
    size_classes: frozenset[str] = field(default_factory=lambda: frozenset(DEFAULT_SIZE_CLASSES))

    def extended(
        self,
        mobility: Iterable[str] = (),
        features: Iterable[str] = (),
        size_classes: Iterable[str] = (),
    ) -> Vocabulary:
        return Vocabulary(
            self.mobility | _words(mobility, "mobility"),
            self.features | _words(features, "features"),
            self.size_classes | _words(size_classes, "size_classes"),
        )

    def require_mobility(self, word: str, field_name: str = "mobility") -> str:
        return _require(word, self.mobility, field_name)

    def require_feature(self, word: str, field_name: str = "features") -> str:
        return _require(word, self.features, field_name)

    def require_size_class(self, word: str, field_name: str = "size_class") -> str:
        return _require(word, self.size_classes, field_name)


def _words(words: Iterable[str], kind: str) -> frozenset[str]:
    out = set()
    for word in words:
        if not isinstance(word, str) or not word or not word.replace("_", "").isalnum():
            raise UnknownWordError(kind, f"vocabulary words are lower-case identifiers: {word!r}")
        out.add(word.lower())
    return frozenset(out)


def _require(word: str, allowed: frozenset[str], field_name: str) -> str:
    if word not in allowed:
        raise UnknownWordError(
            field_name,
            f"unknown word {word!r}; known: {', '.join(sorted(allowed))}",
            word,
        )
    return word


def _from_environment() -> Vocabulary:
    path = os.environ.get("DECONFLICTION_VOCABULARY")
    base = Vocabulary()
    if not path:
        return base
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return base.extended(
        data.get("mobility", ()), data.get("features", ()), data.get("size_classes", ())
    )


_current = _from_environment()


def current() -> Vocabulary:
    """The vocabulary in force for this process."""
    return _current


def configure(vocabulary: Vocabulary) -> None:
    """Replace the vocabulary in force (extensions only: defaults always stay)."""
    global _current
    _current = Vocabulary().extended(
        vocabulary.mobility, vocabulary.features, vocabulary.size_classes
    )
