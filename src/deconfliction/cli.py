"""The command line: ``deconfliction serve | check | token | import | export | demo | version``.

Every option is also read from ``DECONFLICTION_<OPTION>`` (e.g. ``DECONFLICTION_PORT``).

``check`` exit codes (for scripts): 0 ``NO_KNOWN_MATCH`` (never a clearance), 3 ``HOLD``,
4 no complete answer — treat as ``HOLD`` (index loading, rate-limited, server unreachable),
1 the request was refused (bad input, bad token), 2 usage error.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.panel import Panel
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from deconfliction import __version__
from deconfliction.domain import limits
from deconfliction.service.config import HOLD_NOTICE_WINDOW_S
from deconfliction.service.ratelimit import DEFAULT_PER_MINUTE as DEFAULT_CHECK_RATE_LIMIT

EXIT_NO_KNOWN_MATCH = 0
EXIT_REFUSED = 1
EXIT_HOLD = 3
EXIT_TREAT_AS_HOLD = 4

app = typer.Typer(
    name="deconfliction",
    help="Stops mistaken-identity incidents: a registry of friendly and protected assets "
    "and a pre-action check that only ever warns.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
token_app = typer.Typer(help="Issue and revoke API tokens (on the store directly).")
app.add_typer(token_app, name="token")
tak_app = typer.Typer(help="TAK onboarding: client certificates and data packages.")
app.add_typer(tak_app, name="tak")

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def _env(flag: str) -> str:
    return "DECONFLICTION_" + flag.upper().replace("-", "_")


DataDir = Annotated[
    Path, typer.Option("--data-dir", envvar=_env("data_dir"), help="Where the store lives.")
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar=_env("database_url"),
        help="postgresql://user@host:port/db, or sqlite:///path (default: the file in --data-dir).",
    ),
]


def _fail(message: str, code: int = EXIT_REFUSED) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


# --- serve ------------------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str, typer.Option(envvar=_env("host"))] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar=_env("port"), min=0, max=65535)] = 8080,
    data_dir: DataDir = Path("./data"),
    database_url: DatabaseUrl = None,
    cot_tcp_port: Annotated[int, typer.Option(envvar=_env("cot_tcp_port"), min=0)] = 0,
    cot_tls_port: Annotated[int, typer.Option(envvar=_env("cot_tls_port"), min=0)] = 8089,
    cot_udp_port: Annotated[int, typer.Option(envvar=_env("cot_udp_port"), min=0)] = 0,
    cot_idle_timeout_s: Annotated[
        float,
        typer.Option(
            "--cot-idle-timeout-s",
            envvar=_env("cot_idle_timeout_s"),
            min=0.1,
            help="Close a CoT connection silent this long.",
        ),
    ] = 300.0,
    check_rate_limit: Annotated[
        int,
        typer.Option(
            envvar=_env("check_rate_limit"),
            min=0,
            help="Checks/minute/unit (anti-probing; docs/security.md); 0 = off.",
        ),
    ] = DEFAULT_CHECK_RATE_LIMIT,
    hold_notice_window_s: Annotated[
        float,
        typer.Option(
            "--hold-notice-window-s",
            envvar=_env("hold_notice_window_s"),
            min=0.0,
            help="Tell an asset's owner of HOLDs on it once per asking party in this long "
            "(docs/security.md); 0 = once per check.",
        ),
    ] = HOLD_NOTICE_WINDOW_S,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo", envvar=_env("demo"), help="Load the fictional demo scenario at start."
        ),
    ] = False,
    retention_policy: Annotated[
        Path | None,
        typer.Option(
            "--retention-policy",
            envvar=_env("retention_policy"),
            help="A retention policy (JSON) applied now and every interval_s "
            "(docs/design/audit.md).",
        ),
    ] = None,
    webhook_allow: Annotated[
        list[str] | None,
        typer.Option(
            "--webhook-allow",
            envvar=_env("webhook_allow"),
            metavar="CIDR",
            help="A network webhooks may reach although it is internal (loopback, private, "
            "link-local …; refused otherwise, docs/security.md); repeat it or give a comma "
            "list.",
        ),
    ] = None,
    tile_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--tile-origin",
            envvar=_env("tile_origins"),
            metavar="ORIGIN",
            help="A map tile server the web UI may load images from besides this server, "
            "e.g. http://10.0.0.5:8080 (scheme, host, port: nothing else; added to the "
            "page's CSP img-src only, docs/security.md); repeat it or give a comma list.",
        ),
    ] = None,
) -> None:
    """Run the HTTP API (the store is created and migrated on first start)."""
    import uvicorn

    from deconfliction.api.app import create_asgi
    from deconfliction.notifications.webhook_destinations import parse_allow_list
    from deconfliction.service import auth
    from deconfliction.service.config import Settings
    from deconfliction.service.demo import load_demo
    from deconfliction.service.tile_origins import parse_tile_origins
    from deconfliction.usecases import UseCases

    try:
        webhook_networks = parse_allow_list(webhook_allow or ())
    except ValueError as exc:
        raise _fail(f"--webhook-allow: {exc}", code=2) from None
    try:
        tile_origins = parse_tile_origins(tile_origin or ())
    except ValueError as exc:
        raise _fail(f"--tile-origin: {exc}", code=2) from None
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = Settings(
        host=host,
        port=port,
        data_dir=data_dir,
        database_url=database_url,
        cot_tcp_port=cot_tcp_port,
        cot_tls_port=cot_tls_port,
        cot_udp_port=cot_udp_port,
        check_rate_limit=check_rate_limit,
        hold_notice_window_s=hold_notice_window_s,
        demo=demo,
        webhook_allow=webhook_networks,
        tile_origins=tile_origins,
        long_running=True,
    )
    policy = None
    if retention_policy is not None:
        from deconfliction.service.retention import PolicyError, load_policy

        try:
            policy = load_policy(retention_policy)
        except PolicyError as exc:
            raise _fail(f"--retention-policy: {exc}") from None
    try:
        usecases = UseCases.open(settings)
    except (ValueError, NotImplementedError, OSError) as exc:
        raise _fail(str(exc)) from None
    url = f"http://{host}:{port}"
    say(f"Deconfliction {__version__} serving {url} (API docs {url}/docs)")
    say(f"Store: {database_url or (data_dir / 'deconfliction.sqlite3')}")
    if demo:
        # Written before the engine loads, so never followed: the loader plans its
        # notifications (docs/design/notifications.md, "Other processes' writes").
        usecases.core.replay_after_seq = usecases.core.store.last_event_seq()
        loaded = load_demo(usecases.core.store, datetime.now(UTC))
        unit = loaded.scenario.incident_check.unit_id
        token, _ = auth.issue(
            usecases.core.store, "operator", unit, timedelta(days=30), actor="serve --demo"
        )
        say(
            f"Demo scenario loaded ({loaded.created} created, {loaded.updated} refreshed, "
            f"{loaded.reports} reports): {loaded.scenario.narrative.title}"
        )
        say(f"Drone team {unit} operator token (valid 30 days):")
        say(f"DEMO_TOKEN={token}")
        obs = loaded.scenario.incident_check
        say(
            f"Try: deconfliction check --url {url} --token $DEMO_TOKEN "
            f"--lat {obs.position.lat:.5f} --lon {obs.position.lon:.5f} --cep-m {obs.cep_m:g} "
            "--mobility wheeled --feature radar --feature antenna_mast"
        )
    from deconfliction.tak.pki import PkiError
    from deconfliction.tak.server import StopBeforeShutdown, start_gateway

    try:
        tak = start_gateway(usecases, settings, idle_timeout_s=cot_idle_timeout_s)
    except (OSError, PkiError) as exc:
        usecases.core.close()
        raise _fail(
            f"CoT/TAK gateway: {exc} (choose other --cot-*-port values, or 0 to turn one off)"
        ) from None
    for line in tak.describe():
        say(line)
    if webhook_networks:
        allowed = ", ".join(str(net) for net in webhook_networks)
        say(f"Webhooks may also reach: {allowed} (--webhook-allow).")
    if tile_origins:
        say(f"The web UI may load map tiles from: {', '.join(tile_origins)} (--tile-origin).")
    if check_rate_limit:
        say(f"Check rate limit: {check_rate_limit} per minute per unit (429 treat_as HOLD).")
    retention = None
    if policy is not None:
        from deconfliction.service.retention import RetentionRunner

        retention = RetentionRunner(usecases.core, policy)
        retention.start()
        say(f"Retention policy {retention_policy} applied every {policy.interval_s:g} s.")
    sys.stdout.flush()
    loop = "uvloop" if _importable("uvloop") else "auto"
    http = "httptools" if _importable("httptools") else "auto"
    try:
        uvicorn.run(
            StopBeforeShutdown(create_asgi(usecases), tak),
            host=host,
            port=port,
            loop=loop,
            http=http,
            log_level="info",
            access_log=False,
            lifespan="on",
        )
    finally:
        if retention is not None:
            retention.stop()
        tak.stop()


def say(text: str) -> None:
    """A plain line on stdout (never wrapped: URLs and tokens stay copyable)."""
    print(text, flush=True)


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


# --- check ------------------------------------------------------------------------------------


@app.command()
def check(
    lat: Annotated[
        float | None,
        typer.Option(help="Latitude, WGS 84 degrees.", min=limits.LAT_MIN, max=limits.LAT_MAX),
    ] = None,
    lon: Annotated[
        float | None,
        typer.Option(help="Longitude, WGS 84 degrees.", min=limits.LON_MIN, max=limits.LON_MAX),
    ] = None,
    mgrs: Annotated[str | None, typer.Option(help="An MGRS reference instead of lat/lon.")] = None,
    cep_m: Annotated[
        float,
        typer.Option("--cep-m", help="Circular error probable, m.", min=0, max=limits.MAX_CEP_M),
    ] = 10.0,
    mobility: Annotated[str | None, typer.Option(help="wheeled, tracked, foot, ...")] = None,
    feature: Annotated[
        list[str] | None, typer.Option("--feature", help="A seen feature; repeat for more.")
    ] = None,
    certain: Annotated[
        bool, typer.Option("--certain", help="What was seen is certain (default: probable).")
    ] = False,
    unit: Annotated[
        str | None, typer.Option(help="The asking unit (default: the token's unit).")
    ] = None,
    time: Annotated[
        str | None, typer.Option(help="Observed time, RFC 3339 (default: now).")
    ] = None,
    note: Annotated[str | None, typer.Option(help="Free text stored with the check.")] = None,
    url: Annotated[str, typer.Option(envvar=_env("url"))] = "http://127.0.0.1:8080",
    token: Annotated[str | None, typer.Option(envvar=_env("token"))] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw answer.")] = False,
) -> None:
    """Ask a running server whether anything registered could be at a point."""
    if token is None:
        raise _fail("a token is needed: --token or DECONFLICTION_TOKEN", EXIT_REFUSED)
    # Out of the time window: a usage error naming the flag, before anything is sent.
    observed_at = _parse_time_option("--time", time).isoformat() if time else None
    if mgrs is not None:
        position: dict[str, Any] = {"mgrs": mgrs}
    elif lat is not None and lon is not None:
        position = {"lat": lat, "lon": lon}
    else:
        raise _fail("give --lat and --lon, or --mgrs")
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=10.0) as client:
            if unit is None:
                me = client.get("/v1/me")
                if me.status_code != 200:
                    _exit_on_error(me)
                unit = me.json().get("unit_id")
                if not unit:
                    raise _fail("this token has no unit: pass --unit")
            body: dict[str, Any] = {
                "unit_id": unit,
                "position": position,
                "cep_m": cep_m,
                "observed": {
                    "features": feature or [],
                    "certainty": "certain" if certain else "probable",
                },
            }
            if mobility:
                body["observed"]["mobility"] = mobility
            if observed_at:
                body["time"] = observed_at
            if note:
                body["note"] = note
            response = client.post("/v1/checks", json=body)
    except httpx.HTTPError as exc:
        err.print(Panel(Text("NO ANSWER — TREAT AS HOLD", style="bold white on red"), expand=False))
        raise _fail(f"could not reach {url}: {exc}", EXIT_TREAT_AS_HOLD) from None
    if response.status_code != 201:
        _exit_on_error(response)
    answer = response.json()
    if as_json:
        out.print_json(data=answer)
    else:
        render_answer(out, answer)
    raise typer.Exit(EXIT_HOLD if answer.get("verdict") == "HOLD" else EXIT_NO_KNOWN_MATCH)


@app.command()
def dashboard(
    asset: Annotated[str | None, typer.Option(help="An asset id.")] = None,
    area: Annotated[str | None, typer.Option(help="An operating area id.")] = None,
    url: Annotated[str, typer.Option(envvar=_env("url"))] = "http://127.0.0.1:8080",
    token: Annotated[str | None, typer.Option(envvar=_env("token"))] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw answer.")] = False,
) -> None:
    """Awareness: every unit that should know of an asset (or an area's assets), when it
    was told, whether it answered, who is still unbriefed; soonest deadline first.
    For the owner party's coordinators and admins."""
    if token is None:
        raise _fail("a token is needed: --token or DECONFLICTION_TOKEN", EXIT_REFUSED)
    if (asset is None) == (area is None):
        raise _fail("give exactly one of --asset or --area")
    params = {"asset": asset} if asset is not None else {"area": area}
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=10.0) as client:
            response = client.get("/v1/dashboard/awareness", params=params)
    except httpx.HTTPError as exc:
        raise _fail(f"could not reach {url}: {exc}") from None
    if response.status_code != 200:
        _exit_on_error(response)
    board = response.json()
    if as_json:
        out.print_json(data=board)
        return
    render_dashboard(out, board)


def render_dashboard(console: Console, board: dict[str, Any]) -> None:
    """Who knows: one row per unit told, the unanswered ones first to the eye (red)."""
    subject = f"asset {board['asset']}" if board.get("asset") else f"area {board.get('area')}"
    table = Table(title=f"Who should know of {subject} (party {board.get('party_id')})")
    for column in ("unit", "party", "cause", "told", "deadline", "answer", "briefed", "escalated"):
        table.add_column(column)
    for row in board.get("told") or []:
        response = row.get("response")
        answer = (
            f"{response['response']} by {response['by']} at {response['at']}"
            if response
            else "[bold red]UNANSWERED[/]"
        )
        briefed = {True: "yes", False: "[bold red]no[/]", None: "-"}[row.get("briefed")]
        escalations = ", ".join(
            f"L{e['level']} {e['unit_id'] or e.get('contact') or e['party_id']}"
            for e in row.get("escalations") or []
        )
        table.add_row(
            str(row.get("unit_id") or "-"),
            str(row.get("party_id")),
            str(row.get("cause")),
            str(row.get("told_at")),
            str(row.get("deadline") or "-"),
            answer,
            briefed,
            escalations or "-",
        )
    console.print(table)
    unanswered = board.get("unanswered") or []
    unbriefed = board.get("unbriefed") or []
    console.print(f"Unanswered: {', '.join(unanswered) if unanswered else 'none'}")
    console.print(f"Unbriefed: {', '.join(unbriefed) if unbriefed else 'none'}")
    console.print("Acknowledgement means received, never approved.")


def _exit_on_error(response: httpx.Response) -> None:
    try:
        error = response.json().get("error", {})
    except ValueError:
        error = {"message": response.text[:200]}
    if error.get("treat_as") == "HOLD":
        out.print(Panel(Text("TREAT AS HOLD", style="bold white on red"), expand=False))
        raise _fail(
            f"{response.status_code} {error.get('code')}: {error.get('message')}",
            EXIT_TREAT_AS_HOLD,
        )
    field = f" (field {error['field']})" if error.get("field") else ""
    raise _fail(f"{response.status_code} {error.get('code')}: {error.get('message')}{field}")


def render_answer(console: Console, answer: dict[str, Any]) -> None:
    """A verdict a tired operator reads in two seconds."""
    if answer.get("verdict") == "HOLD":
        headline = Text("  HOLD  ", style="bold white on red")
        sub = "Something registered as friendly or protected could be there. Do not act yet."
    else:
        headline = Text("  NO KNOWN MATCH  ", style="bold black on yellow")
        sub = "Nothing registered could be there. This is NOT a clearance."
    console.print(Panel(Text.assemble(headline, "\n", sub), expand=False))
    matches = answer.get("matches") or []
    for i, match in enumerate(matches, start=1):
        if match.get("details_withheld"):
            title = f"{i}. withheld — party {match.get('party_id')}"
        else:
            title = f"{i}. {match.get('kind')} {match.get('id')} — party {match.get('party_id')}"
        console.print(f"[bold]{title}[/]")
        for reason in match.get("reasons") or []:
            console.print(f"   {reason}")
        for conflict in match.get("feature_conflicts") or []:
            console.print(f"   differs: {conflict.get('feature')} — {conflict.get('cue')}")
        if match.get("contact"):
            console.print(f"   contact: {match['contact']}")
    shown = len(matches)
    total = answer.get("match_count", shown)
    if total > shown:
        console.print(f"... and {total - shown} more matches")
    gaps = answer.get("coverage_gaps") or []
    if gaps:
        console.print("[bold]Coverage gaps[/] (parties that may be there unseen):")
        for gap in gaps:
            console.print(f"   {gap.get('party_id')}: {gap.get('reason')}")
    console.print(
        f"Valid until {answer.get('valid_until')} (evaluated {answer.get('evaluated_at')})"
    )
    if answer.get("id"):
        console.print(f"Check id: {answer['id']}")


# --- tokens -----------------------------------------------------------------------------------


@token_app.command("issue")
def token_issue(
    role: Annotated[str, typer.Option(help="operator, coordinator or admin")],
    unit: Annotated[str | None, typer.Option(envvar=_env("unit"), help="The token's unit.")] = None,
    data_dir: DataDir = Path("./data"),
    database_url: DatabaseUrl = None,
    ttl_days: Annotated[
        float,
        typer.Option(
            "--ttl-days",
            envvar=_env("ttl_days"),
            help="0 = never expires.",
            max=limits.MAX_TOKEN_TTL_DAYS,
        ),
    ] = 90.0,
) -> None:
    """Print a new token (stdout: the token alone), accepted at once by a server on this store."""
    from deconfliction.service import auth
    from deconfliction.service.errors import ServiceError

    if ttl_days < 0:
        raise _fail("--ttl-days must be 0 (never expires) or positive")
    ttl = timedelta(days=ttl_days) if ttl_days > 0 else None
    with _store(data_dir, database_url) as store:
        try:
            token, record = auth.issue(store, role, unit, ttl, actor="cli")
        except ServiceError as exc:
            raise _fail(exc.message) from None
    expires = record.expires_at.isoformat() if record.expires_at else "never"
    err.print(
        f"token {record.token_id}: role {record.role}, unit {record.unit_id or '-'}, "
        f"party {record.party_id or '-'}, expires {expires}"
    )
    print(token)


@token_app.command("revoke")
def token_revoke(
    token: Annotated[str, typer.Argument(help="The token, or its id (the 16 hex digits).")],
    data_dir: DataDir = Path("./data"),
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a token; a running server refuses it within a second."""
    from deconfliction.store import NotFound
    from deconfliction.store.tokens import parse_token

    parsed = parse_token(token)
    token_id = parsed[0] if parsed else token
    with _store(data_dir, database_url) as store:
        try:
            store.revoke_token(token_id, "cli")
        except NotFound:
            raise _fail(f"no token {token_id!r}") from None
    err.print(f"token {token_id} revoked")


@token_app.command("list")
def token_list(data_dir: DataDir = Path("./data"), database_url: DatabaseUrl = None) -> None:
    """List tokens (never their secrets)."""
    with _store(data_dir, database_url) as store:
        records = store.list_tokens()
    table = Table("id", "role", "unit", "party", "expires", "revoked")
    for r in records:
        table.add_row(
            r.token_id,
            r.role,
            r.unit_id or "-",
            r.party_id or "-",
            r.expires_at.isoformat() if r.expires_at else "never",
            r.revoked_at.isoformat() if r.revoked_at else "",
        )
    out.print(table)


class _store:
    """The configured store, with friendly errors."""

    def __init__(self, data_dir: Path, database_url: str | None, *, sign: bool = True) -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        self.sign = sign

    def __enter__(self) -> Any:
        from deconfliction.store import StoreError, open_store

        try:
            if not self.database_url:
                self.data_dir.mkdir(parents=True, exist_ok=True)
            self.store = open_store(self.data_dir, self.database_url, sign=self.sign)
        except (ValueError, NotImplementedError, OSError, StoreError) as exc:
            raise _fail(str(exc)) from None
        return self.store

    def __exit__(self, exc_type: object, *exc: object) -> None:
        try:
            if self.sign and exc_type is None:
                # What this command signed is anchored beside the key (docs/security.md).
                from deconfliction.service.audit_watch import anchor_newest
                from deconfliction.store import store_location

                location = store_location(self.data_dir, self.database_url)
                anchor_newest(self.store, self.data_dir, location)
        finally:
            self.store.close()


# --- TAK ----------------------------------------------------------------------------------------


@tak_app.command("issue-client")
def tak_issue_client(
    unit: Annotated[str, typer.Option(envvar=_env("unit"), help="The unit the client acts as.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for the files.")],
    data_dir: DataDir = Path("./data"),
    database_url: DatabaseUrl = None,
    server_host: Annotated[
        str | None,
        typer.Option(
            envvar=_env("server_host"),
            help="Host TAK clients connect to (default: the server certificate's host).",
        ),
    ] = None,
    server_port: Annotated[
        int, typer.Option(envvar=_env("cot_tls_port"), min=1, max=65535, help="TLS port.")
    ] = 8089,
) -> None:
    """Issue a client certificate bound to a unit, and a TAK data package for it."""
    from deconfliction.tak.package import write_client_bundle
    from deconfliction.tak.pki import PkiError, issue_client_certificate, server_common_name

    with _store(data_dir, database_url) as store:
        stored = store.get("unit", unit)
    if stored is None or not stored.party_id:
        raise _fail(
            f"unknown unit {unit!r}: register it first (POST /v1/units), then issue its certificate"
        )
    try:
        host = server_host or server_common_name(data_dir) or "localhost"
        credentials = issue_client_certificate(data_dir, unit, stored.party_id)
        bundle = write_client_bundle(out_dir, unit, credentials, host=host, port=server_port)
    except (OSError, PkiError) as exc:
        raise _fail(str(exc)) from None
    err.print(
        f"client certificate for unit {unit} (party {stored.party_id}), serial "
        f"{credentials.serial:x}, valid until {credentials.not_after.isoformat()}"
    )
    for path in bundle.files():
        say(f"wrote {path}")
    say(
        f"data package for ATAK/WinTAK/iTAK: {bundle.data_package} (connects to {host}:"
        f"{server_port}:ssl)"
    )
    say(f"PKCS#12 password (shown once, also inside the data package): {credentials.password}")


@tak_app.command("revoke")
def tak_revoke(
    serial: Annotated[
        str, typer.Option(help="The certificate's serial, in hex, as issue-client printed it.")
    ],
    reason: Annotated[str, typer.Option(help="Why (kept beside the serial).")] = "",
    data_dir: DataDir = Path("./data"),
) -> None:
    """Revoke a client certificate: refused at connect, open connections closed in seconds."""
    from deconfliction.tak.revocation import SerialError, parse_serial, revoke, revoked_path

    try:
        number = parse_serial(serial)
        added = revoke(data_dir, number, datetime.now(UTC), reason)
    except SerialError as exc:
        raise _fail(f"--serial: {exc}") from None
    except OSError as exc:
        raise _fail(str(exc)) from None
    state = "revoked" if added else "already revoked"
    say(f"certificate serial {number:x} {state} ({revoked_path(data_dir)})")


# --- import / export ----------------------------------------------------------------------------


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="A GeoJSON FeatureCollection or a CSV file.")],
    kind: Annotated[
        str | None, typer.Option(help="asset, site or area (CSV: guessed from the header).")
    ] = None,
    data_dir: DataDir = Path("./data"),
    database_url: DatabaseUrl = None,
) -> None:
    """Import assets, sites and areas: all rows, or (on any bad row) none."""
    from deconfliction.service import transfer

    try:
        items = transfer.read_items(file, kind)
    except transfer.TransferError as exc:
        raise _fail(f"{file}: {exc.message}") from None
    with _store(data_dir, database_url) as store, Progress(console=err) as progress:
        task = progress.add_task(f"importing {file.name}", total=2 * len(items))
        try:
            result = transfer.import_items(
                store, items, "cli:import", lambda n: progress.advance(task, n)
            )
        except transfer.TransferError as exc:
            progress.stop()
            raise _fail(f"{file}: {exc.message}") from None
    kinds = ", ".join(f"{n} {k}s" for k, n in sorted(result.by_kind.items())) or "nothing"
    out.print(f"imported {kinds} ({result.created} new, {result.replaced} replaced)")


@app.command()
def export(
    kind: Annotated[
        list[str] | None, typer.Option(help="asset, site, area (repeat; default: all)")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="geojson or csv")] = "geojson",
    output: Annotated[Path | None, typer.Option("--out", help="File (default: stdout).")] = None,
    data_dir: DataDir = Path("./data"),
    database_url: DatabaseUrl = None,
) -> None:
    """Export assets, sites and areas as a GeoJSON FeatureCollection or CSV (one kind)."""
    from deconfliction.service import transfer

    names = kind or list(transfer.TRANSFER_KINDS)
    unknown = [n for n in names if n not in transfer.TRANSFER_KINDS]
    if unknown:
        raise _fail(f"unknown kind(s) {', '.join(unknown)}; use asset, site, area")
    kinds = [transfer.TRANSFER_KINDS[n] for n in names]
    if fmt not in ("geojson", "csv"):
        raise _fail("--format is geojson or csv")
    if fmt == "csv" and len(kinds) != 1:
        raise _fail("CSV holds one kind: pass exactly one --kind")
    import contextlib

    from deconfliction.private_files import open_private

    with (
        _store(data_dir, database_url) as store,
        # a registry export is registry data: 0600, replaced atomically (docs/security.md)
        open_private(output) if output else contextlib.nullcontext(sys.stdout) as sink,
        Progress(console=err, transient=True) as progress,
    ):
        total = sum(store.count(k.name) for k in kinds)
        task = progress.add_task("exporting", total=total)
        pairs = transfer.export_docs(store, kinds)

        def counted(items: Any) -> Any:
            for item in items:
                progress.advance(task)
                yield item

        if fmt == "csv":
            n = transfer.write_csv(sink, kinds[0], (d for _, d in counted(pairs)))
        else:
            n = transfer.write_geojson(sink, (transfer.to_feature(k, d) for k, d in counted(pairs)))
    err.print(f"exported {n} objects")


# --- demo -------------------------------------------------------------------------------------


@app.command()
def demo(
    replay: Annotated[
        bool,
        typer.Option("--replay", help="Print the incident twice: without and with the service."),
    ] = False,
    data_dir: DataDir = Path("./data"),
    database_url: DatabaseUrl = None,
) -> None:
    """Load the fictional demo scenario into the store (idempotent), or replay its incident."""
    if replay:
        from deconfliction.scenarios.demo import build_demo
        from deconfliction.service.demo import replay_check

        scenario = build_demo(datetime.now(UTC))
        result = replay_check(scenario)
        render_replay(out, scenario, result.to_dict())
        return
    from deconfliction.service.demo import load_demo

    with _store(data_dir, database_url) as store:
        loaded = load_demo(store, datetime.now(UTC), actor="cli:demo")
    unit = loaded.scenario.incident_check.unit_id
    out.print(
        f"Demo scenario loaded: {loaded.created} created, {loaded.updated} refreshed, "
        f"{loaded.reports} position reports. {loaded.scenario.narrative.title}."
    )
    out.print(
        f"A token for the drone team: deconfliction token issue --role operator --unit {unit} "
        f"--data-dir {data_dir}"
    )


def render_replay(console: Console, scenario: Any, answer: dict[str, Any]) -> None:
    """The incident twice, in time order: without the service, then with it."""
    narrative = scenario.narrative
    console.print(Panel(f"[bold]{narrative.title}[/]\n{narrative.summary}", expand=False))
    sees = (
        "Kestrel 7's drone sees a wheeled vehicle with a radar and a mast across its "
        "border. It looks like a Type-88 search radar truck."
    )
    without = {
        narrative.arrival_announced_at: "Westmark plans Bastion-2's march. Nobody tells Kestrel 7.",
        narrative.loading_at: (
            "Bastion-2, a Skyshield-W (the new wheeled variant of the tracked Skyshield-T), "
            "is on the road. Kestrel 7 has never seen one."
        ),
        narrative.incident_at: sees + " There is nobody to ask.",
        narrative.enters_drone_aor_at: "Bastion-2 could first have entered Kestrel 7's area.",
    }
    with_service = {
        narrative.arrival_announced_at: (
            "Westmark registers Bastion-2's march, its Skyshield-W recognition card and "
            "releases it to Northland."
        ),
        narrative.loading_at: without[narrative.loading_at],
        narrative.incident_at: sees + " Kestrel 7 checks before acting:",
        narrative.enters_drone_aor_at: "Bastion-2 can first enter Kestrel 7's area.",
    }

    def clock(t: datetime) -> str:
        return t.astimezone(UTC).strftime("%H:%MZ")

    console.rule("[bold]1. Without the service[/]")
    for t in sorted(without):
        console.print(f"{clock(t)}  {without[t]}")
        if t == narrative.incident_at:
            console.print(
                Text(
                    "Outcome: the allied launcher is engaged. "
                    "Afterwards nobody can tell who knew what when.",
                    style="bold red",
                )
            )
    console.rule("[bold]2. With the service[/]")
    for t in sorted(with_service):
        console.print(f"{clock(t)}  {with_service[t]}")
        if t == narrative.incident_at:
            render_answer(console, answer)
            console.print(
                Text(
                    "Outcome: Kestrel 7 holds and calls Westmark; the check is on record.",
                    style="bold green",
                )
            )


# --- audit ------------------------------------------------------------------------------------

audit_app = typer.Typer(help="The tamper-evident audit log: verify and export the hash chain.")
app.add_typer(audit_app, name="audit")

EXIT_AUDIT_BROKEN = 1

PublicKeys = Annotated[
    list[Path] | None,
    typer.Option(
        "--public-key",
        help="Pin a signer: a file with a base64 or PEM Ed25519 public key (repeatable). "
        "Every signature must then be by a pinned key.",
    ),
]


def _pinned(paths: list[Path] | None) -> list[bytes] | None:
    from deconfliction.audit.keys import public_key_from_text

    if not paths:
        return None
    try:
        return [public_key_from_text(path.read_text()) for path in paths]
    except (OSError, ValueError) as exc:
        raise _fail(f"--public-key: {exc}") from None


def _audit_outcome(report: Any, as_json: bool) -> None:
    if as_json:
        out.print_json(data=report.as_dict())
    elif report.ok:
        signers = ", ".join(sorted(report.keys)) or "none"
        out.print(
            f"[bold green]audit log intact[/]: {report.count} entries "
            f"(head seq {report.head_seq}, hash {report.head_hash}), "
            f"{report.purged} payloads purged, {report.signed} signed entries "
            f"(keys: {signers}), {report.unsigned_tail} unsigned after the last signature"
        )
        for note in report.notes:
            out.print(note)
    else:
        problem = report.problem
        where = (
            f"cut after seq {problem.seq - 1}"
            if problem.code == "cut"
            else f"broken at seq {problem.seq}"
        )
        err.print(f"[bold red]audit log {where}[/] ({problem.code}): {problem.message}")
    if not report.ok:
        raise typer.Exit(EXIT_AUDIT_BROKEN)


def _anchors(data_dir: Path, paths: list[Path] | None) -> list[Any]:
    """The anchors to check: those in ``--anchor`` files/directories, else the data
    directory's (beside the key). Read before the store's snapshot is taken."""
    from deconfliction.audit.anchor import anchor_files, load_anchors

    found: list[Any] = []
    for path in paths or [data_dir]:
        try:
            files = anchor_files(path) if path.is_dir() else [path]
            for file in files:
                found.extend(load_anchors(file))
        except (OSError, ValueError) as exc:
            raise _fail(f"--anchor: {exc}") from None
    return found


@audit_app.command("verify")
def audit_verify(
    data_dir: DataDir = Path("./data"),
    database_url: DatabaseUrl = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="Verify an exported file instead of the store.")
    ] = None,
    public_key: PublicKeys = None,
    anchor: Annotated[
        list[Path] | None,
        typer.Option(
            "--anchor",
            help="An anchor file, or a directory of them (repeatable); default: the "
            "anchors in --data-dir, beside the audit key.",
        ),
    ] = None,
    require_anchor: Annotated[
        bool,
        typer.Option(
            "--require-anchor", help="Fail (exit 1) when no anchor speaks for the log's end."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check the whole hash chain (and signatures), and that the log still holds every
    anchored checkpoint (its end was not cut); name the first broken entry.

    Exit 0 when intact, 1 when broken or cut (or the store cannot be read)."""
    from deconfliction.audit.chain import Problem
    from deconfliction.audit.verify import NOT_ANCHORED, verify_file, verify_store
    from deconfliction.store import store_location

    pinned = _pinned(public_key)
    if file is not None:
        try:
            report = verify_file(file, pinned)
        except (OSError, ValueError) as exc:
            raise _fail(f"{file}: {exc}") from None
    else:
        anchors = _anchors(data_dir, anchor)
        with _store(data_dir, database_url, sign=False) as store:
            location = store_location(data_dir, database_url)
            report = verify_store(store, pinned, anchors, location=location)
    if require_anchor and report.ok and not report.anchored:
        report.problem = Problem(
            report.head_seq, "not_anchored", f"{NOT_ANCHORED} (--require-anchor)"
        )
    _audit_outcome(report, as_json)


@audit_app.command("export")
def audit_export(
    out_file: Annotated[Path, typer.Option("--out", help="The JSON-lines file to write.")],
    data_dir: DataDir = Path("./data"),
    database_url: DatabaseUrl = None,
    no_payloads: Annotated[
        bool, typer.Option("--no-payloads", help="Digests only: leave the payloads out.")
    ] = False,
) -> None:
    """Write the log to a portable file that verifies with the public key alone."""
    from deconfliction.audit.keys import NodeKey
    from deconfliction.audit.verify import export
    from deconfliction.private_files import open_private
    from deconfliction.store import store_location

    anchors = _anchors(data_dir, None)
    with _store(data_dir, database_url) as store:
        key = NodeKey.load_or_create(data_dir)
        location = store_location(data_dir, database_url)
        try:
            # the audit log: 0600, replaced atomically, discarded when broken
            with open_private(out_file) as f:
                report = export(
                    store,
                    f,
                    payloads=not no_payloads,
                    key=key,
                    anchors=anchors,
                    location=location,
                )
                if not report.ok:
                    _audit_outcome(report, False)  # raises: the file is not written
        except OSError as exc:
            raise _fail(f"{out_file}: {exc}") from None
    err.print(
        f"exported {report.count} entries to {out_file} (head seq {report.head_seq}); "
        f"exporting node key {key.key_id}: {key.public_b64}"
    )


# --- review -----------------------------------------------------------------------------------


@app.command()
def review(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Directory for review.md/.html/.json and the map.")
    ],
    at: Annotated[str | None, typer.Option("--at", help="The incident's time, RFC 3339.")] = None,
    near: Annotated[
        str | None, typer.Option("--near", help="The incident's point: LAT,LON (degrees).")
    ] = None,
    radius: Annotated[float, typer.Option("--radius", help="Radius around the point, m.")] = 3000.0,
    window: Annotated[
        str, typer.Option("--window", help="How far before --at to look (90m, 6h, 2d).")
    ] = "6h",
    after: Annotated[str, typer.Option("--after", help="How far after --at to look.")] = "1h",
    as_party: Annotated[
        str | None, typer.Option("--as-party", help="Only what this party may see.")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option("--token", envvar=_env("token"), help="Review as this token's holder."),
    ] = None,
    demo_story: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Play the demo incident into a fresh store (a temporary directory) at its "
            "own pace and review it (--at/--near default to the incident's check).",
        ),
    ] = False,
    data_dir: DataDir = Path("./data"),
    database_url: DatabaseUrl = None,
) -> None:
    """The after-action review of an incident: Markdown, HTML and a map, from the record.

    Without --as-party or --token the review shows the whole record (it runs on the store
    directly, like audit verify); with either, only what that party may see."""
    import tempfile

    from deconfliction.check.engine import Engine
    from deconfliction.review.incident import Incident
    from deconfliction.review.render import write_review
    from deconfliction.review.usecase import parse_at, parse_duration, parse_near, whole_review
    from deconfliction.service.access import SYSTEM, Principal
    from deconfliction.service.config import Settings
    from deconfliction.service.core import Service
    from deconfliction.service.errors import ServiceError
    from deconfliction.usecases import UseCases

    if as_party and token:
        raise _fail("--as-party and --token exclude each other", code=2)
    with tempfile.TemporaryDirectory(prefix="deconfliction-review-") as tmp:
        try:
            if demo_story:
                from deconfliction.review.story import play

                story = play(Path(tmp))
                uc = story.usecases
                when = parse_at(at) if at else story.at
                lat, lon = parse_near(near) if near else (story.lat, story.lon)
            else:
                if at is None or near is None:
                    raise _fail("--at and --near are needed (or --demo)", code=2)
                when, (lat, lon) = parse_at(at, "--at"), parse_near(near, "--near")
                store = _store(data_dir, database_url, sign=False).__enter__()  # reads only
                uc = UseCases.around(
                    Service(store, Engine(), Settings(data_dir=data_dir, database_url=database_url))
                )
            try:
                who: Principal = SYSTEM
                if as_party:
                    if uc.core.store.get("party", as_party) is None:
                        raise _fail(f"--as-party: no party {as_party!r}")
                    who = Principal("review", "coordinator", None, as_party)
                elif token:
                    who = uc.auth.token(token)
                incident = Incident(
                    when,
                    lat,
                    lon,
                    radius,
                    before=parse_duration(window, "--window"),
                    after=parse_duration(after, "--after"),
                )
                body = whole_review(uc, who, incident)  # every page (files, no body)
            finally:
                uc.core.store.close()
        except ServiceError as exc:
            raise _fail(exc.message) from None
        files = write_review(body, out_dir)
    findings = len(body["findings"])
    out.print(
        f"review of {body['incident']['at']} written to {out_dir}: "
        + ", ".join(f.name for f in files)
        + f" ({len(body['timeline'])} timeline entries, {findings} findings; "
        f"audit log {'intact' if body['record']['intact'] else 'BROKEN'})"
    )


# --- retention --------------------------------------------------------------------------------

retention_app = typer.Typer(help="Retention policies: purge old reports and checks (audited).")
app.add_typer(retention_app, name="retention")


@retention_app.command("run")
def retention_run(
    policy_file: Annotated[
        Path, typer.Option("--policy", envvar=_env("retention_policy"), help="The policy (JSON).")
    ],
    data_dir: DataDir = Path("./data"),
    database_url: DatabaseUrl = None,
    at: Annotated[
        str | None, typer.Option("--at", help="Apply as of this time, RFC 3339 (default: now).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
) -> None:
    """Apply a retention policy once, on the store directly; the purge is audited."""
    from deconfliction.service.retention import PolicyError, apply_policy, load_policy

    try:
        policy = load_policy(policy_file)
    except PolicyError as exc:
        raise _fail(f"--policy: {exc}") from None
    now = _parse_time_option("--at", at) if at else datetime.now(UTC)
    with _store(data_dir, database_url) as store:
        outcome = apply_policy(store, policy, now, actor="cli:retention")
    if as_json:
        out.print_json(
            data={"at": outcome.at, "purged": outcome.counts, "cutoffs": outcome.cutoffs}
        )
        return
    c = outcome.counts
    out.print(
        f"retention as of {outcome.at}: {c['report_rows']} reports "
        f"({c['report_payloads']} report events) and {c['checks']} checks "
        f"({c['check_payloads']} check events) purged"
    )


def _parse_time_option(flag: str, text: str) -> datetime:
    """An RFC 3339 time with a zone, or a usage error naming the flag."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise _fail(f"{flag}: not an RFC 3339 time: {text!r}", code=2) from None
    if value.tzinfo is None:
        raise _fail(f"{flag}: the time needs a zone (e.g. Z): {text!r}", code=2)
    if not limits.time_in_range(value):
        raise _fail(f"{flag}: must be {limits.describe_time_range()}: {text!r}", code=2)
    return value.astimezone(UTC)


# --- version ----------------------------------------------------------------------------------


@app.command()
def version() -> None:
    """Print the version."""
    print(f"deconfliction {__version__}")


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
