"""Group commit, leader and followers (``service/groupcommit.py``): whoever finds no group
being written writes one, the records that arrive meanwhile share the next, and each record
gets its own outcome, a failed group being written again one by one."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from deconfliction.service.groupcommit import GroupCommit

pytestmark = pytest.mark.unit


class Writer:
    """Records each transaction it is given; holds the first one until released; fails a
    transaction holding a record named ``bad``."""

    def __init__(self) -> None:
        self.transactions: list[list[str]] = []
        self.first_started = threading.Event()
        self.release_first = threading.Event()

    def __call__(self, records: Sequence[str]) -> float:
        if not self.transactions and not self.first_started.is_set():
            self.first_started.set()
            self.release_first.wait(30)
        if "bad" in records:
            raise ValueError("bad record")
        self.transactions.append(list(records))
        return 0.001 * len(records)


def test_a_lone_record_is_written_by_its_own_caller_at_once() -> None:
    writer = Writer()
    writer.release_first.set()
    group = GroupCommit(writer)
    assert group.submit(["a"]) == [None]
    assert group.submit(["b", "c"]) == [None, None]
    assert writer.transactions == [["a"], ["b", "c"]]
    assert group.stats.as_dict() == {
        "records": 3,
        "groups": 2,
        "largest": 2,
        "lock_held_s": 0.003,
        "failed_groups": 0,
        "failed_records": 0,
    }


def test_records_arriving_during_a_commit_share_the_next_one() -> None:
    writer = Writer()
    group = GroupCommit(writer)
    outcomes: dict[str, list[Exception | None]] = {}

    def submit(name: str) -> None:
        outcomes[name] = group.submit([name])

    leader = threading.Thread(target=submit, args=("first",))
    leader.start()
    assert writer.first_started.wait(30)  # "first" is being written, holding the group
    followers = [threading.Thread(target=submit, args=(f"r{i}",)) for i in range(6)]
    for thread in followers:
        thread.start()
    while len(group._queue) < 6:  # every follower queued behind the commit (a state)
        threading.Event().wait(0.001)
    writer.release_first.set()
    for thread in [leader, *followers]:
        thread.join(30)
    assert writer.transactions[0] == ["first"]
    assert sorted(writer.transactions[1]) == [f"r{i}" for i in range(6)]
    assert len(writer.transactions) == 2
    assert all(outcome == [None] for outcome in outcomes.values())


def test_a_failed_group_is_written_again_one_by_one() -> None:
    writer = Writer()
    writer.release_first.set()
    group = GroupCommit(writer)
    assert [type(e).__name__ if e else None for e in group.submit(["a", "bad", "c"])] == [
        None,
        "ValueError",
        None,
    ]
    assert writer.transactions == [["a"], ["c"]]
    stats = group.stats
    assert (stats.records, stats.groups, stats.failed_groups, stats.failed_records) == (2, 2, 1, 1)


def test_a_group_takes_at_most_max_group_records() -> None:
    writer = Writer()
    writer.release_first.set()
    group = GroupCommit(writer, max_group=3)
    assert group.submit([str(i) for i in range(7)]) == [None] * 7
    assert writer.transactions == [["0", "1", "2"], ["3", "4", "5"], ["6"]]


def test_an_interrupted_group_leaves_the_next_one_free() -> None:
    calls: list[Sequence[str]] = []

    def write(records: Sequence[str]) -> float:
        calls.append(records)
        if len(calls) == 1:
            raise KeyboardInterrupt
        return 0.0

    group = GroupCommit(write)
    with pytest.raises(KeyboardInterrupt):
        group.submit(["a"])
    assert group.submit(["b"]) == [None]  # not left "leading" by the interrupted one
    assert group.stats.records == 1
