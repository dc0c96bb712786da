"""The after-action review (issue 8, item 4) on the demo incident played at its own pace:
what it shows the drone team's party, what it withholds from a third party, who may
have one, bad input, and that the committed example regenerates (content, not bytes)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from deconfliction.cli import app
from deconfliction.review.incident import Incident
from deconfliction.review.render import MAP_FILE, to_html, to_markdown, to_png
from deconfliction.review.story import EXAMPLE_RADIUS_M, Story, play
from deconfliction.review.usecase import review
from deconfliction.scenarios import demo
from deconfliction.service.access import SYSTEM, Principal
from deconfliction.service.errors import Forbidden, InvalidInput

pytestmark = pytest.mark.unit

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "review-example"


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Story:
    return play(tmp_path_factory.mktemp("story"))


def _coordinator(party: str) -> Principal:
    return Principal("test", "coordinator", None, party)


def _review(story: Story, who: Principal, radius_m: float = EXAMPLE_RADIUS_M) -> dict[str, Any]:
    return review(story.usecases, who, Incident(story.at, story.lat, story.lon, radius_m))


def _pages(body: dict[str, Any]) -> str:
    """Everything a viewer gets in words: the JSON, the Markdown and the HTML."""
    return json.dumps(body) + to_markdown(body) + to_html(body)


def test_story_check_is_hold_naming_bastion(story: Story) -> None:
    assert story.check["verdict"] == "HOLD"
    assert demo.VARIANT_ASSET in {m["id"] for m in story.check["matches"]}


def test_review_for_the_asking_party_shows_why_on_one_page(story: Story) -> None:
    body = _review(story, _coordinator(demo.NDF))
    assert body["record"]["intact"] is True
    [finding] = body["findings"]
    assert finding["asset_id"] == demo.VARIANT_ASSET
    assert finding["unit_id"] == demo.DRONE_TEAM
    assert finding["told_before_check"] is True
    assert finding["briefed_before_told"] is False
    without = " ".join(finding["without_service"])
    assert "only notice to Kestrel Drone Team 7 of Bastion-2" in without
    assert "never been briefed on the Skyshield-W" in without
    assert "Type-88" in without  # what it looks like, and the cue
    with_ = " ".join(finding["with_service"])
    assert "announced arrival to Kestrel Drone Team 7" in with_
    assert "answered acknowledged by Cpl. R. Vance" in with_
    assert "answered briefed by Cpl. R. Vance" in with_
    assert "check answered HOLD naming Bastion-2" in with_
    assert "Westmark Army answered confirmed_ours" in with_

    # the timeline, in order: told, answered, reports, the check
    whats = [e["what"] for e in body["timeline"]]
    assert whats.index("notified") < whats.index("answered") < whats.index("report")
    assert whats.index("report") < whats.index("check")
    told = [e["at"] for e in body["timeline"] if e["what"] == "notified"]
    [check] = body["checks"]
    assert max(told) < check["at"]
    assert check["verdict"] == "HOLD" and check["unit_id"] == demo.DRONE_TEAM
    assert {a["id"] for a in body["assets"]} == {demo.VARIANT_ASSET}
    assert {m["id"] for m in body["movements"]} == {demo.VARIANT_MOVEMENT}
    assert {u["id"] for u in body["units"]} >= {demo.DRONE_TEAM}
    parties = {p["party_id"]: p["data_here"] for p in body["parties"]}
    assert parties == {demo.NDF: True, demo.WMA: True, demo.OHR: False}
    markdown = to_markdown(body)
    assert "## Why it happened without the service" in markdown
    assert to_png(body).startswith(b"\x89PNG")


def _withheld_from_ohr(story: Story) -> list[str]:
    """What Open Hands (party C) may not see: Westmark's (party B's) Bastion-2, released
    to Northland only, and Northland's units and check; ids, callsigns, coordinates."""
    s = story.scenario
    words = [demo.VARIANT_ASSET, demo.VARIANT_MOVEMENT, "Bastion-2", "WMA-BASTION-2"]
    words += [demo.DRONE_TEAM, "Kestrel Drone Team 7", demo.NDF_CELL, demo.WMA_CELL]
    words += ["chk_", "Cpl. R. Vance", "Capt. L. Moreau", "radar vehicle?"]
    for r in s.reports:
        if r.asset_id == demo.VARIANT_ASSET:
            words += [f"{r.position.lat:.3f}", f"{r.position.lon:.3f}"]
    for lon, lat in demo.VARIANT_ROUTE:
        words += [f"{lat:.3f}", f"{lon:.3f}"]
    return words


def test_review_for_party_c_contains_nothing_c_may_not_see(story: Story) -> None:
    words = _withheld_from_ohr(story)
    # the same search finds them in what the drone team's party and an admin get ...
    full = _pages(_review(story, SYSTEM))
    assert all(w in full for w in [demo.VARIANT_ASSET, "Bastion-2", "chk_", demo.DRONE_TEAM])
    # ... and none in Open Hands' review of the same incident (bar its own incident point,
    # which it gave; the forbidden coordinates are elsewhere on the route)
    body = _review(story, _coordinator(demo.OHR))
    own = {f"{story.lat:.3f}", f"{story.lon:.3f}"}
    pages = _pages(body)
    leaked = [w for w in words if w not in own and w in pages]
    assert leaked == []
    assert body["checks"] == [] and body["findings"] == [] and body["assets"] == []
    assert body["notifications"] == [] and body["units"] == []
    assert to_png(body).startswith(b"\x89PNG")


def test_westmark_sees_its_own_asset_but_not_northlands_units(story: Story) -> None:
    body = _review(story, _coordinator(demo.WMA))
    assert {a["id"] for a in body["assets"]} == {demo.VARIANT_ASSET}
    assert body["checks"] == []  # the check's position went to Westmark as a notification
    assert {n["cause"] for n in body["notifications"]} == {"hold_on_your_asset"}
    assert demo.DRONE_TEAM not in json.dumps(body["units"])


def test_operators_may_not_have_a_review(story: Story) -> None:
    operator = Principal("t", "operator", demo.DRONE_TEAM, demo.NDF)
    with pytest.raises(Forbidden):
        _review(story, operator)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"radius_m": 0.0}, "radius_m"),
        ({"radius_m": 1e9}, "radius_m"),
        ({"lat": 91.0}, "lat"),
    ],
)
def test_bad_input_names_the_field(story: Story, change: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {
        "at": story.at,
        "lat": story.lat,
        "lon": story.lon,
        "radius_m": EXAMPLE_RADIUS_M,
    }
    args.update(change)
    with pytest.raises(InvalidInput) as caught:
        review(story.usecases, SYSTEM, Incident(**args))
    assert caught.value.field is not None and field in caught.value.field


_VOLATILE = [
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?Z?"), "<time>"),
    (re.compile(r"\b\d\d:\d\d(:\d\d)?Z"), "<time>"),
    (re.compile(r"\b(chk|ntf)_[0-9a-f]+"), r"\1_<id>"),
    (re.compile(r"\b[0-9a-f]{64}\b"), "<hash>"),
]


def _masked(text: str) -> str:
    """The example without what changes with the time it is made (times, ids, hashes)."""
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def test_committed_example_regenerates(tmp_path: Path) -> None:
    """``deconfliction review --demo --as-party ndf --out docs/review-example`` made the
    committed example; running it again gives the same review, times and ids aside."""
    out = tmp_path / "example"
    result = CliRunner().invoke(
        app, ["review", "--demo", "--as-party", demo.NDF, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    for name in ("review.md", "review.html"):
        fresh = (out / name).read_text()
        committed = (EXAMPLE / name).read_text()
        assert _masked(fresh) == _masked(committed), name
    assert (out / MAP_FILE).read_bytes().startswith(b"\x89PNG")
    assert (EXAMPLE / MAP_FILE).read_bytes().startswith(b"\x89PNG")
    assert f"]({MAP_FILE})" in (EXAMPLE / "review.md").read_text()
