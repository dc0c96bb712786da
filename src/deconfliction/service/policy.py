"""Who may call each HTTP endpoint, and how its output is filtered: one table.

Every endpoint of the API has exactly one :class:`Rule` in :data:`RULES`, keyed
by method and path template (as FastAPI spells it, ``/v1/assets/{obj_id}``).
The routes do not decide access themselves: they take the caller from
:func:`deconfliction.api.deps.caller`, which looks the route's rule up here and
applies it (401 without a valid token, 403 for a role the rule does not list);
the fast path of ``POST /v1/checks`` calls :func:`authorize` the same way. An
endpoint without a rule is refused to everyone (deny by default), and
``tests/service/test_policy.py`` fails the build when one exists.

Object-level rules (which party's objects, which unit's inbox) are applied by
the use case the rule names in ``reads``; the rule states them so that the
whole policy is readable in one place, and the leak tests check them.

Adding an endpoint is one line in :data:`RULES`, e.g.
``("GET", "/v1/review"): Rule(STAFF, OWN_PARTY, "the review of the caller's party"),``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from deconfliction.service.access import ROLES, Principal, Role
from deconfliction.service.errors import Forbidden


class Reads(Enum):
    """What an endpoint may show a caller (the object-level filter its use case applies)."""

    #: Nothing about the registry (liveness, version, the caller itself, the UI shell).
    NOTHING = "nothing"
    #: The shared catalogue and parties: readable by every token.
    SHARED = "shared"
    #: Registry objects: the owner party, parties in ``releasable_to`` (or ``"*"``),
    #: admins; anything else does not exist (404). ``Registry.visible``.
    RELEASABLE = "releasable"
    #: Objects of the caller's own party only (units, AORs); 404 for other parties'.
    OWN_PARTY = "own_party"
    #: A unit's own data (its checks, its inbox, its stream): an operator of that unit,
    #: a coordinator of its party, admins; another party's unit is a 404.
    OWN_UNIT = "own_unit"
    #: Writes only: what the body names must be the caller's party's (``may_manage``).
    MANAGE_OWN_PARTY = "manage_own_party"
    #: Admin business (tokens, parties, the catalogue, test hooks).
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Rule:
    #: Token roles allowed; ``None``: no token needed (public).
    roles: frozenset[Role] | None
    reads: Reads
    #: One line for the reader of this table and of the threat model.
    why: str = ""

    @property
    def public(self) -> bool:
        return self.roles is None


EVERYONE: frozenset[Role] = frozenset(ROLES)
STAFF: frozenset[Role] = frozenset({"coordinator", "admin"})
ADMIN_ONLY: frozenset[Role] = frozenset({"admin"})

PUBLIC = Rule(None, Reads.NOTHING, "liveness and the API's own description")


def _registry(path: str, *, admin_writes: bool, reads: Reads) -> dict[tuple[str, str], Rule]:
    """The five CRUD endpoints of one registry kind."""
    writers = ADMIN_ONLY if admin_writes else STAFF
    write = Reads.ADMIN if admin_writes else Reads.MANAGE_OWN_PARTY
    item = f"{path}/{{obj_id}}"
    return {
        ("GET", path): Rule(EVERYONE, reads, "list, filtered per object"),
        ("GET", item): Rule(EVERYONE, reads, "read; invisible is 404"),
        ("POST", path): Rule(writers, write, "register"),
        ("PUT", item): Rule(writers, write, "replace"),
        ("DELETE", item): Rule(writers, write, "delete"),
    }


#: (method, path template) → rule. Keep one line per endpoint outside the registry kinds.
RULES: Mapping[tuple[str, str], Rule] = {
    # -- public -----------------------------------------------------------------------------
    ("GET", "/v1/health"): PUBLIC,
    ("GET", "/v1/version"): PUBLIC,
    ("GET", "/v1/ready"): PUBLIC,
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/"): Rule(None, Reads.NOTHING, "the web UI's page; its data comes from /v1/map"),
    ("GET", "/web"): Rule(None, Reads.NOTHING, "the web UI's static files (no data)"),
    # -- the caller, tokens -------------------------------------------------------------------
    ("GET", "/v1/me"): Rule(EVERYONE, Reads.NOTHING, "the token's own role, unit and party"),
    ("GET", "/v1/status/checks"): Rule(ADMIN_ONLY, Reads.ADMIN, "check-recording counters"),
    ("POST", "/v1/tokens"): Rule(ADMIN_ONLY, Reads.ADMIN, "issue a token"),
    ("DELETE", "/v1/tokens/{token_id}"): Rule(ADMIN_ONLY, Reads.ADMIN, "revoke a token"),
    # -- checks and reports -------------------------------------------------------------------
    ("POST", "/v1/checks"): Rule(
        EVERYONE, Reads.RELEASABLE, "as the token's unit; withheld matches: party and contact"
    ),
    ("GET", "/v1/checks/{check_id}"): Rule(EVERYONE, Reads.OWN_UNIT, "the asker's own checks"),
    ("POST", "/v1/reports"): Rule(STAFF, Reads.MANAGE_OWN_PARTY, "own party's assets only"),
    # -- registry -----------------------------------------------------------------------------
    **_registry("/v1/parties", admin_writes=True, reads=Reads.SHARED),
    **_registry("/v1/equipment-types", admin_writes=True, reads=Reads.SHARED),
    **_registry("/v1/units", admin_writes=False, reads=Reads.OWN_PARTY),
    **_registry("/v1/assets", admin_writes=False, reads=Reads.RELEASABLE),
    **_registry("/v1/movements", admin_writes=False, reads=Reads.RELEASABLE),
    **_registry("/v1/areas", admin_writes=False, reads=Reads.RELEASABLE),
    **_registry("/v1/sites", admin_writes=False, reads=Reads.RELEASABLE),
    # -- the map and the vocabulary -----------------------------------------------------------
    ("GET", "/v1/map"): Rule(EVERYONE, Reads.RELEASABLE, "own AOR + what the party may see"),
    ("GET", "/v1/vocabulary"): Rule(EVERYONE, Reads.SHARED, "the recognition words"),
    ("GET", "/v1/map/tile-origins"): Rule(
        EVERYONE, Reads.NOTHING, "the operator's tile origins (also in the page's CSP)"
    ),
    # -- notifications ------------------------------------------------------------------------
    ("GET", "/v1/units/{unit_id}/notifications"): Rule(EVERYONE, Reads.OWN_UNIT, "inbox"),
    ("GET", "/v1/units/{unit_id}/notifications/stream"): Rule(EVERYONE, Reads.OWN_UNIT, "SSE"),
    ("GET", "/v1/notifications/{notification_id}"): Rule(EVERYONE, Reads.OWN_UNIT, "one"),
    ("POST", "/v1/notifications/{notification_id}/responses"): Rule(
        EVERYONE, Reads.OWN_UNIT, "answer (received, never approved)"
    ),
    ("GET", "/v1/dashboard/awareness"): Rule(STAFF, Reads.OWN_PARTY, "owner party's objects"),
    ("POST", "/v1/test/clock"): Rule(ADMIN_ONLY, Reads.ADMIN, "test hook, 404 unless enabled"),
    ("POST", "/v1/units/{unit_id}/webhooks"): Rule(STAFF, Reads.OWN_PARTY, "own party's units"),
    ("GET", "/v1/units/{unit_id}/webhooks"): Rule(STAFF, Reads.OWN_PARTY, "never the secret"),
    ("DELETE", "/v1/webhooks/{webhook_id}"): Rule(STAFF, Reads.OWN_PARTY, "own party's units"),
    ("GET", "/v1/review"): Rule(STAFF, Reads.RELEASABLE, "what the caller's party may see"),
    ("GET", "/v1/tak/status"): Rule(STAFF, Reads.OWN_PARTY, "own party's TLS clients"),
}


def rule_for(method: str, path: str) -> Rule | None:
    """The rule of an endpoint (``HEAD`` follows ``GET``); ``None`` when it has none."""
    key = "GET" if method == "HEAD" else method
    return RULES.get((key, path))


def authorize(who: Principal, method: str, path: str) -> Principal:
    """``who`` if the endpoint's rule admits its role; else 403. No rule: refused."""
    rule = rule_for(method, path)
    if rule is None:
        raise Forbidden(f"{method} {path} has no access rule; it is refused to everyone")
    if rule.roles is not None and who.role not in rule.roles:
        allowed = ", ".join(sorted(rule.roles))
        raise Forbidden(f"{method} {path} is for {allowed} tokens, not {who.role}")
    return who
