"""Who is asking, and what a token's role allows.

Roles are exactly the contract's: ``operator`` checks as its unit and reads;
``coordinator`` manages its party's units, assets, movements, areas and sites and
posts their reports; ``admin`` does everything (parties, a party's first unit,
the catalogue, tokens). Reads are denied by default: an object is visible to its
owner party, to the parties its ``releasable_to`` lists (or ``"*"``), and to
admins. What a reader may not see does not exist for it (404, never 403).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from deconfliction.domain.model import visible_to

Role = Literal["operator", "coordinator", "admin"]
ROLES: tuple[Role, ...] = ("operator", "coordinator", "admin")


@dataclass(frozen=True, slots=True)
class Principal:
    token_id: str
    role: Role
    unit_id: str | None
    party_id: str | None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def actor(self) -> str:
        """How the audit log names whoever wrote."""
        who = self.unit_id or self.party_id or "-"
        return f"{self.role}:{who}:{self.token_id}"

    def may_see(self, owner_party: str | None, releasable_to: Any) -> bool:
        if self.is_admin:
            return True
        if owner_party is None:
            return False
        rel = releasable_to if isinstance(releasable_to, list) else None
        return visible_to(owner_party, rel, self.party_id)

    def may_manage(self, owner_party: str | None) -> bool:
        """Write access to an object of ``owner_party`` (non-catalogue kinds)."""
        if self.is_admin:
            return True
        return (
            self.role == "coordinator" and owner_party is not None and owner_party == self.party_id
        )


SYSTEM = Principal(token_id="system", role="admin", unit_id=None, party_id=None)
