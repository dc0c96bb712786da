"""``tak_status`` without a gateway, and who may read it (the rest: over the real server in
``tests/tak/test_gateway.py``)."""

from __future__ import annotations

import pytest

from deconfliction.service.access import Principal
from deconfliction.service.errors import Forbidden
from deconfliction.tak.status import tak_status

pytestmark = pytest.mark.unit

ADMIN = Principal("t-1", "admin", None, None)
COORDINATOR = Principal("t-2", "coordinator", "a-cell", "alpha")
OPERATOR = Principal("t-3", "operator", "a-drones", "alpha")


def test_without_a_gateway_it_says_so() -> None:
    assert tak_status(ADMIN, None) == {
        "enabled": False,
        "listeners": {},
        "connections": [],
        "unbound": [],
        "closed_totals": None,
    }
    assert tak_status(COORDINATOR, None) == {
        "enabled": False,
        "listeners": {},
        "connections": [],
        "unbound": [],
    }


def test_operators_are_refused() -> None:
    with pytest.raises(Forbidden, match="operator"):
        tak_status(OPERATOR, None)
