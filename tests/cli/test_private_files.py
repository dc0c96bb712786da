"""Files the CLI writes with registry, audit or credential data are 0600 (issue 15,
finding 6): ``export --out``, ``audit export --out`` and ``review --out``, fresh and over an
existing 0644 file, each run as a real subprocess on the test backend
(``docs/design/security.md``, "Files and the review, bounded")."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.support.live import run_cli

pytestmark = pytest.mark.integration


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _no_leftovers(folder: Path) -> None:
    """No temporary file stays behind beside the output."""
    assert [p.name for p in folder.iterdir() if p.name.endswith(".tmp")] == []


@pytest.fixture
def loaded(data_dir: Path) -> Path:
    """A store with the demo registry in it (and so events in its audit log)."""
    ran = run_cli("demo", "--data-dir", str(data_dir))
    assert ran.returncode == 0, ran.stderr + ran.stdout
    return data_dir


@pytest.mark.parametrize(
    "command",
    [
        ["export"],
        ["export", "--kind", "asset", "--format", "csv"],
        ["audit", "export"],
    ],
    ids=["export-geojson", "export-csv", "audit-export"],
)
@pytest.mark.parametrize("existing", [False, True], ids=["fresh", "over-0644"])
def test_exports_are_written_0600(
    loaded: Path, tmp_path: Path, command: list[str], existing: bool
) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "registry.out"
    if existing:
        out.write_text("an older export\n")
        out.chmod(0o644)
    ran = run_cli(*command, "--out", str(out), "--data-dir", str(loaded))
    assert ran.returncode == 0, ran.stderr + ran.stdout
    assert _mode(out) == 0o600, oct(_mode(out))
    text = out.read_text()
    assert "an older export" not in text
    assert "Bastion" in text or '"seq"' in text  # registry or audit data, not an empty file
    _no_leftovers(out_dir)


def test_a_stricter_umask_is_kept(loaded: Path, tmp_path: Path) -> None:
    out = tmp_path / "registry.geojson"
    ran = run_cli("export", "--out", str(out), "--data-dir", str(loaded))
    assert ran.returncode == 0, ran.stderr
    # the helper's mode is ANDed with the umask the subprocess inherits: 0600 & ~0277 = 0400
    old = os.umask(0o277)
    try:
        again = run_cli("export", "--out", str(out), "--data-dir", str(loaded))
    finally:
        os.umask(old)
    assert again.returncode == 0, again.stderr
    assert _mode(out) == 0o400, oct(_mode(out))


def test_a_failed_export_leaves_the_old_file_and_no_partial(loaded: Path, tmp_path: Path) -> None:
    out = tmp_path / "registry.csv"
    out.write_text("kept\n")
    # CSV of two kinds is refused after the options are read: nothing may be written
    ran = run_cli(
        "export", "--format", "csv", "--kind", "asset", "--kind", "site",
        "--out", str(out), "--data-dir", str(loaded),
    )  # fmt: skip
    assert ran.returncode != 0
    assert out.read_text() == "kept\n"
    _no_leftovers(tmp_path)


def test_review_files_are_written_0600(loaded: Path, tmp_path: Path) -> None:
    out = tmp_path / "review"
    out.mkdir()
    (out / "review.json").write_text("{}")
    (out / "review.json").chmod(0o644)
    ran = run_cli(
        "review", "--at", "2030-01-01T00:00:00Z", "--near", "48.6,35.9",
        "--out", str(out), "--data-dir", str(loaded),
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr + ran.stdout
    names = sorted(p.name for p in out.iterdir())
    assert names == ["review-map.png", "review.html", "review.json", "review.md"]
    for name in names:
        assert _mode(out / name) == 0o600, (name, oct(_mode(out / name)))
    assert json.loads((out / "review.json").read_text())["incident"]["radius_m"] == 3000
