"""Settings of a running service (the CLI fills them from flags and ``DECONFLICTION_*``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path

#: Test hook: seconds the index loader waits before it starts, so that tests can
#: observe the "index loading" answer (503, treat_as HOLD). Never set it in production.
LOAD_DELAY_ENV = "DECONFLICTION_TEST_LOAD_DELAY_S"

REPORTS_BODY_LIMIT = 8 * 1024 * 1024
DEFAULT_BODY_LIMIT = 1024 * 1024
MAX_REPORTS_PER_BATCH = 10_000
#: The default of ``Settings.hold_notice_window_s``: the answer deadline of the notice
#: (``urgent_deadline_s``), so the owner is asked again once it had time to answer.
HOLD_NOTICE_WINDOW_S = 10 * 60.0


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("./data")
    database_url: str | None = None
    cot_tcp_port: int = 0
    cot_tls_port: int = 8089
    cot_udp_port: int = 0
    #: Checks per minute per unit; 0 = off.
    check_rate_limit: int = 0
    #: ``serve --demo``: the demo scenario is written to the store after the open, before
    #: the engine loads (its token and banner come first), so it is never followed; the
    #: loader gives the writes after the open to the hooks too (``Service.__init__``;
    #: docs/design/notifications.md, "Other processes' writes").
    demo: bool = False
    #: Staleness horizon of the check, in hours.
    horizon_hours: float = 6.0
    load_delay_s: float = field(default_factory=lambda: _float_env(LOAD_DELAY_ENV))
    #: Notifications (docs/design/notifications.md): an announcement is due this long
    #: before the earliest entry (per-party leads are a later step).
    announcement_lead_s: float = 30 * 60.0
    #: The least time a unit is given to answer an announcement (a party's
    #: ``min_answer_min`` replaces it for its units): an arrival already inside, or one
    #: whose lead time has passed, is due this long after it is sent, never at once.
    min_answer_s: float = 5 * 60.0
    #: An unannounced entry or a HOLD on one's asset is due this long after it is sent.
    urgent_deadline_s: float = 10 * 60.0
    #: A HOLD on one's asset is told its owner once per (asset, asking party) in this long;
    #: further checks still answer HOLD, their notices are left out (docs/design/security.md,
    #: "TAK uids and plain-port reports"); 0 = one notice per check.
    hold_notice_window_s: float = HOLD_NOTICE_WINDOW_S
    #: An escalation unanswered this long escalates once more (out of band), then stops.
    escalation_interval_s: float = 30 * 60.0
    #: How often the escalation scheduler looks for passed deadlines.
    escalation_tick_s: float = 1.0
    #: Webhooks (notifications/webhooks.py): a failed delivery is retried after base × 2^(n-1)
    #: seconds, at most max; each POST waits this long for an answer; without a wake-up
    #: the dispatcher looks for due deliveries this often.
    webhook_retry_base_s: float = field(
        default_factory=lambda: _float_env("DECONFLICTION_WEBHOOK_RETRY_BASE_S") or 2.0
    )
    webhook_retry_max_s: float = 300.0
    webhook_timeout_s: float = 5.0
    webhook_poll_s: float = 1.0
    #: Networks webhooks may reach although the destination policy refuses them (loopback,
    #: private …): ``serve --webhook-allow CIDR`` (docs/design/security.md, "Webhook destinations").
    webhook_allow: tuple[IPv4Network | IPv6Network, ...] = ()
    #: Origins (``http://10.0.0.5:8080``, normalised by ``service/tile_origins.py``) the web
    #: UI may load map tiles from, besides the server itself: added to the page's CSP
    #: ``img-src`` only (``serve --tile-origin``; docs/design/security.md, "The web UI renders data
    #: as text").
    tile_origins: tuple[str, ...] = ()
    #: One service per process, for the life of the process (``serve``): the loaded index
    #: is moved out of the garbage collector's sight once loaded (``Service._load``).
    long_running: bool = False
    #: Test hook (``DECONFLICTION_TEST_CLOCK=1``): ``POST /v1/test/clock`` moves the clock.
    test_clock: bool = field(default_factory=lambda: _float_env("DECONFLICTION_TEST_CLOCK") > 0)


def _float_env(name: str) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return 0.0
    try:
        return max(0.0, float(raw))
    except ValueError:
        return 0.0
