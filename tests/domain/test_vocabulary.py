"""The recognition vocabulary: closed (an unknown word is named), extensible, never shrinking."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from deconfliction.domain import vocabulary
from deconfliction.domain.errors import DomainError, UnknownWordError
from deconfliction.domain.model import Observed, RecognitionProfile
from deconfliction.domain.vocabulary import Vocabulary

pytestmark = pytest.mark.unit

# The lists of docs/design/principles.md, spelled out independently of the module under test.
DESIGN_MOBILITY = {"wheeled", "tracked", "foot", "static", "air", "watercraft"}
DESIGN_FEATURES = {
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
}
DESIGN_SIZES = {"small", "medium", "large"}


@pytest.fixture
def restore_vocabulary() -> Iterator[None]:
    saved = vocabulary.current()
    yield
    vocabulary.configure(saved)
    assert vocabulary.current() == saved


def test_the_defaults_are_exactly_those_of_the_design() -> None:
    v = Vocabulary()
    assert v.mobility == DESIGN_MOBILITY
    assert v.features == DESIGN_FEATURES
    assert v.size_classes == DESIGN_SIZES
    assert set(vocabulary.CERTAINTIES) == {"probable", "certain"}


def test_known_words_are_returned_unchanged() -> None:
    v = Vocabulary()
    for word in DESIGN_MOBILITY:
        assert v.require_mobility(word) == word
    for word in DESIGN_FEATURES:
        assert v.require_feature(word) == word
    for word in DESIGN_SIZES:
        assert v.require_size_class(word) == word


@pytest.mark.parametrize(
    ("check", "field"),
    [
        ("require_mobility", "mobility"),
        ("require_feature", "features"),
        ("require_size_class", "size_class"),
    ],
)
@pytest.mark.parametrize("word", ["hovercraft", "Radar", "WHEELED", " radar", "", "laser_dazzler"])
def test_an_unknown_word_is_named_with_its_field(check: str, field: str, word: str) -> None:
    with pytest.raises(UnknownWordError) as info:
        getattr(Vocabulary(), check)(word)
    err = info.value
    assert isinstance(err, DomainError)
    assert err.code == "unknown_word"
    assert err.field == field
    assert err.value == word
    assert f"unknown word {word!r}" in str(err)
    assert str(err).startswith(f"{field}:")


def test_the_message_lists_what_is_known() -> None:
    with pytest.raises(UnknownWordError) as info:
        Vocabulary().require_size_class("huge")
    assert "known: large, medium, small" in str(info.value)


def test_the_field_name_can_be_given() -> None:
    with pytest.raises(UnknownWordError) as info:
        Vocabulary().require_feature("laser", "observed.features")
    assert info.value.field == "observed.features"


def test_extending_adds_words_and_keeps_the_defaults() -> None:
    base = Vocabulary()
    more = base.extended(mobility=["hover"], features=["sonar", "Mine_Plough"], size_classes=["xl"])
    assert more.mobility == DESIGN_MOBILITY | {"hover"}
    assert more.features == DESIGN_FEATURES | {"sonar", "mine_plough"}
    assert more.size_classes == DESIGN_SIZES | {"xl"}
    assert more.require_feature("sonar") == "sonar"
    # The original is untouched (frozen, a new object each time).
    assert base == Vocabulary()
    with pytest.raises(UnknownWordError):
        base.require_feature("sonar")


@pytest.mark.parametrize("bad", ["", "two words", "a-b", "x/y", "!", 5, None])
def test_extension_words_must_be_identifiers(bad: object) -> None:
    with pytest.raises(UnknownWordError) as info:
        Vocabulary().extended(features=[bad])  # type: ignore[list-item]
    assert info.value.field == "features"
    assert repr(bad) in str(info.value)


def test_configure_extends_what_the_models_accept(restore_vocabulary: None) -> None:
    with pytest.raises(ValidationError):
        Observed.model_validate({"features": ["sonar"]})
    vocabulary.configure(Vocabulary().extended(features=["sonar"], mobility=["hover"]))
    assert Observed.model_validate({"features": ["sonar"]}).features == ["sonar"]
    profile = RecognitionProfile.model_validate({"mobility": "hover", "features": ["radar"]})
    assert profile.mobility == "hover"


def test_configure_never_removes_a_default(restore_vocabulary: None) -> None:
    shrunk = Vocabulary(
        mobility=frozenset({"hover"}), features=frozenset({"sonar"}), size_classes=frozenset()
    )
    vocabulary.configure(shrunk)
    now = vocabulary.current()
    assert now.mobility == DESIGN_MOBILITY | {"hover"}
    assert now.features == DESIGN_FEATURES | {"sonar"}
    assert now.size_classes == DESIGN_SIZES
    # Data written under the defaults stays valid.
    assert (
        Observed.model_validate({"mobility": "tracked", "features": ["radar"]}).mobility
        == "tracked"
    )


def test_the_models_reject_unknown_words_naming_them() -> None:
    with pytest.raises(ValidationError) as info:
        RecognitionProfile.model_validate(
            {"mobility": "hover", "features": ["radar", "laser"], "size_class": "huge"}
        )
    by_loc = {e["loc"]: e for e in info.value.errors()}
    assert "unknown word 'hover'" in by_loc[("mobility",)]["msg"]
    assert "unknown word 'laser'" in by_loc[("features", 1)]["msg"]
    assert "unknown word 'huge'" in by_loc[("size_class",)]["msg"]
    assert by_loc[("features", 1)]["input"] == "laser"


def test_the_environment_file_extends_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "vocabulary.json"
    path.write_text(
        json.dumps({"mobility": ["Hover"], "features": ["sonar"], "size_classes": ["tiny"]}),
        encoding="utf-8",
    )
    monkeypatch.setenv("DECONFLICTION_VOCABULARY", str(path))
    loaded = vocabulary._from_environment()
    assert loaded.mobility == DESIGN_MOBILITY | {"hover"}
    assert loaded.features == DESIGN_FEATURES | {"sonar"}
    assert loaded.size_classes == DESIGN_SIZES | {"tiny"}


def test_an_environment_file_with_a_bad_word_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "vocabulary.json"
    path.write_text(json.dumps({"features": ["night vision"]}), encoding="utf-8")
    monkeypatch.setenv("DECONFLICTION_VOCABULARY", str(path))
    with pytest.raises(UnknownWordError) as info:
        vocabulary._from_environment()
    assert "night vision" in str(info.value)


def test_without_the_environment_variable_the_defaults_apply(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DECONFLICTION_VOCABULARY", raising=False)
    assert vocabulary._from_environment() == Vocabulary()
