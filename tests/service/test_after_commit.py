"""What waits for a write's commit (waking the streams) runs once it has committed: a
reader on another connection sees the write then, not before."""

from __future__ import annotations

from pathlib import Path

import pytest

from deconfliction.service.config import Settings
from deconfliction.store import open_store
from deconfliction.usecases import UseCases
from tests.support import backends

pytestmark = pytest.mark.unit


def test_after_commit_runs_once_the_write_is_visible_to_other_connections(
    tmp_path: Path,
) -> None:
    url = backends.database_url(tmp_path)
    uc = UseCases.open(Settings(data_dir=tmp_path, database_url=url))
    other = open_store(tmp_path, url)
    seen: list[bool] = []
    party = {"id": "p9", "name": "Party 9", "kind": "civil", "contact": "net 9"}
    try:
        uc.service.load_now()
        with uc.service.lock:
            with uc.service.writing():
                uc.service.store.create("party", "p9", "p9", party, "test")
                uc.service.after_commit(lambda: seen.append(other.get("party", "p9") is not None))
                with uc.service.writing():  # nested: the outer block commits, and runs it
                    uc.service.after_commit(lambda: seen.append(True))
                assert seen == []
                assert other.get("party", "p9") is None  # not committed yet
            assert seen == [True, True]
        uc.service.after_commit(lambda: seen.append(False))  # outside a write: at once
        assert seen == [True, True, False]
    finally:
        other.close()
        uc.service.close()
