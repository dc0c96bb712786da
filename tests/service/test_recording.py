"""Checks recorded in groups (``service/checks.py``, ``service/groupcommit.py``): the checks of
one group share a transaction, and their owners' HOLD notices with it; a HOLD notice is not
repeated inside a group; a failed group is recorded again one by one, and a check whose
record fails is not answered and its notice is forgotten. And the checks that reach the
event loop's fast path in one turn are one group (``api/check_batch.py``)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from deconfliction.api.fastpath import CheckFastPath
from deconfliction.service.checks import Answered
from deconfliction.service.errors import Unavailable
from tests.support.api_support import Api, running_api
from tests.support.world import asset, check_body, report

pytestmark = pytest.mark.unit


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    """Alpha's assets ``a1`` and ``a2`` reported in alpha's box, far apart."""
    with running_api(tmp_path) as api:
        coord_a = api.as_(api.tokens.coord_a)
        for aid, lat in (("a1", 48.2), ("a2", 48.8)):
            assert api.client.post(
                "/v1/assets", json=asset(aid, "alpha"), headers=coord_a
            ).is_success
            r = api.client.post("/v1/reports", json=[report(aid, lat, 35.5)], headers=coord_a)
            assert r.status_code == 200, r.text
        yield api


def answered(api: Api, lat: float, *, alpha: bool = False) -> Answered:
    """Bravo's check at alpha's asset: HOLD, whose notice goes to alpha's cell (or alpha's
    own check, which tells nobody)."""
    uc = api.uc
    token, unit = (api.tokens.op_a, "a-drones") if alpha else (api.tokens.op_b, "b-team")
    who = uc.auth.from_header(f"Bearer {token}")
    obs, data, party = uc.checks.prepare(who, orjson.dumps(check_body(unit, lat, 35.5)))
    return uc.checks.answer(who, obs, data, party)


def notices(api: Api) -> list[dict[str, Any]]:
    return api.uc.service.store.find_notifications(cause="hold_on_your_asset")


def test_one_group_records_its_checks_and_tells_an_owner_once(api: Api) -> None:
    stats = api.uc.checks.recorder.stats
    groups = stats.groups
    group = [answered(api, 48.2), answered(api, 48.2), answered(api, 48.8)]
    api.uc.checks.record(group)
    assert stats.groups == groups + 1 and stats.largest >= 3
    store = api.uc.service.store
    for item in group:
        assert item.error is None
        assert orjson.loads(api.uc.checks.finish(item))["verdict"] == "HOLD"
        stored = store.get_check(item.record.id)
        assert stored is not None and orjson.dumps(stored["result"]) == item.body
    # a1 once (the first check of the group told alpha's cell), a2 once.
    told = sorted((n["asset_id"], n["subject"]) for n in notices(api))
    assert told == [("a1", f"check:{group[0].record.id}"), ("a2", f"check:{group[2].record.id}")]
    seqs = [e.seq for e in store.events(kinds=["check"])]
    assert len(seqs) == len(set(seqs)) == store.count_checks()


def test_a_failed_group_is_recorded_one_by_one_with_its_notices(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = api.uc.service.store
    add_notifications = store.add_notifications
    calls: list[int] = []

    def fail_once(rows: list[dict[str, Any]], actor: str) -> list[int]:
        calls.append(len(rows))
        if len(calls) == 1:
            raise RuntimeError("the group's notices could not be written")
        return add_notifications(rows, actor)

    monkeypatch.setattr(store, "add_notifications", fail_once)
    stats = api.uc.checks.recorder.stats
    group = [answered(api, 48.8), answered(api, 48.8)]
    api.uc.checks.record(group)
    assert stats.failed_groups == 1 and stats.failed_records == 0
    assert [item.error for item in group] == [None, None]
    # Written again alone, the first check still tells alpha's cell (the second, made
    # after it, was de-duplicated against it).
    (notice,) = notices(api)
    assert (notice["asset_id"], notice["subject"]) == ("a2", f"check:{group[0].record.id}")
    assert all(store.get_check(item.record.id) is not None for item in group)


def test_a_check_whose_record_fails_is_not_answered_and_costs_the_others_nothing(
    api: Api,
) -> None:
    first = answered(api, 48.2, alpha=True)  # alpha's own: no notice
    api.uc.checks.record([first])
    assert first.error is None
    taken = answered(api, 48.2)  # its id is made to collide: its record fails
    taken.record = dataclasses.replace(taken.record, id=first.record.id)
    other = answered(api, 48.2)
    stats = api.uc.checks.recorder.stats
    api.uc.checks.record([taken, other])
    assert stats.failed_groups == 1 and stats.failed_records == 1
    assert isinstance(taken.error, Unavailable) and taken.error.code == "store_unavailable"
    with pytest.raises(Unavailable):
        api.uc.checks.finish(taken)
    assert other.error is None and api.uc.service.store.get_check(other.record.id) is not None
    # The failed check's notice on a1 was never written, and the window forgot it: the
    # other check, made while it was in flight, had left a1 to it (the known gap), and the
    # next HOLD by bravo on a1 tells alpha's cell.
    assert notices(api) == []
    third = answered(api, 48.2)
    api.uc.checks.record([third])
    (notice,) = notices(api)
    assert (notice["asset_id"], notice["subject"]) == ("a1", f"check:{third.record.id}")


def test_checks_reaching_the_fast_path_in_one_turn_of_the_loop_are_one_group(api: Api) -> None:
    async def inner(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("only checks here")

    fastpath = CheckFastPath(inner, api.uc)
    stats = api.uc.checks.recorder.stats
    groups, records = stats.groups, stats.records

    async def checks() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=fastpath)
        headers = api.as_(api.tokens.op_a)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await asyncio.gather(
                *(
                    client.post(
                        "/v1/checks",
                        json=check_body("a-drones", 48.1 + i / 100, 35.2),
                        headers=headers,
                    )
                    for i in range(8)
                )
            )

    answers = asyncio.run(checks())
    assert [r.status_code for r in answers] == [201] * 8
    assert stats.records == records + 8
    assert stats.groups < groups + 8  # some shared a transaction
    for r in answers:
        assert api.uc.service.store.get_check(r.json()["id"]) is not None
