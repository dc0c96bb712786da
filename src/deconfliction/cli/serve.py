"""``deconfliction serve``: the HTTP API, the CoT/TAK gateway, retention and, with
``--demo``, the fictional demo scenario, in one process."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from deconfliction import __version__
from deconfliction.cli.base import DatabaseUrl, DataDir, app, env_var, fail, say
from deconfliction.service.config import HOLD_NOTICE_WINDOW_S
from deconfliction.service.ratelimit import DEFAULT_PER_MINUTE as DEFAULT_CHECK_RATE_LIMIT


@app.command()
def serve(
    host: Annotated[str, typer.Option(envvar=env_var("host"))] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar=env_var("port"), min=0, max=65535)] = 8080,
    data_dir: DataDir = Path("./data"),
    database_url: DatabaseUrl = None,
    cot_tcp_port: Annotated[int, typer.Option(envvar=env_var("cot_tcp_port"), min=0)] = 0,
    cot_tls_port: Annotated[int, typer.Option(envvar=env_var("cot_tls_port"), min=0)] = 8089,
    cot_udp_port: Annotated[int, typer.Option(envvar=env_var("cot_udp_port"), min=0)] = 0,
    cot_idle_timeout_s: Annotated[
        float,
        typer.Option(
            "--cot-idle-timeout-s",
            envvar=env_var("cot_idle_timeout_s"),
            min=0.1,
            help="Close a CoT connection silent this long.",
        ),
    ] = 300.0,
    check_rate_limit: Annotated[
        int,
        typer.Option(
            envvar=env_var("check_rate_limit"),
            min=0,
            help="Checks/minute/unit (anti-probing; docs/design/security.md); 0 = off.",
        ),
    ] = DEFAULT_CHECK_RATE_LIMIT,
    hold_notice_window_s: Annotated[
        float,
        typer.Option(
            "--hold-notice-window-s",
            envvar=env_var("hold_notice_window_s"),
            min=0.0,
            help="Tell an asset's owner of HOLDs on it once per asking party in this long "
            "(docs/design/security.md); 0 = once per check.",
        ),
    ] = HOLD_NOTICE_WINDOW_S,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo", envvar=env_var("demo"), help="Load the fictional demo scenario at start."
        ),
    ] = False,
    retention_policy: Annotated[
        Path | None,
        typer.Option(
            "--retention-policy",
            envvar=env_var("retention_policy"),
            help="A retention policy (JSON) applied now and every interval_s "
            "(docs/design/audit.md).",
        ),
    ] = None,
    webhook_allow: Annotated[
        list[str] | None,
        typer.Option(
            "--webhook-allow",
            envvar=env_var("webhook_allow"),
            metavar="CIDR",
            help="A network webhooks may reach although it is internal (loopback, private, "
            "link-local …; refused otherwise, docs/design/security.md); repeat it or give a comma "
            "list.",
        ),
    ] = None,
    tile_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--tile-origin",
            envvar=env_var("tile_origins"),
            metavar="ORIGIN",
            help="A map tile server the web UI may load images from besides this server, "
            "e.g. http://10.0.0.5:8080 (scheme, host, port: nothing else; added to the "
            "page's CSP img-src only, docs/design/security.md); repeat it or give a comma list.",
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
        raise fail(f"--webhook-allow: {exc}", code=2) from None
    try:
        tile_origins = parse_tile_origins(tile_origin or ())
    except ValueError as exc:
        raise fail(f"--tile-origin: {exc}", code=2) from None
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
            raise fail(f"--retention-policy: {exc}") from None
    try:
        usecases = UseCases.open(settings)
    except (ValueError, NotImplementedError, OSError) as exc:
        raise fail(str(exc)) from None
    url = f"http://{host}:{port}"
    say(f"Deconfliction {__version__} serving {url} (API docs {url}/docs)")
    say(f"Store: {database_url or (data_dir / 'deconfliction.sqlite3')}")
    if demo:
        # Written before the engine loads, so never followed: the loader plans its
        # notifications, as Settings.demo told the service at open
        # (docs/design/notifications.md, "Other processes' writes").
        loaded = load_demo(usecases.service.store, datetime.now(UTC))
        unit = loaded.scenario.incident_check.unit_id
        token, _ = auth.issue(
            usecases.service.store, "operator", unit, timedelta(days=30), actor="serve --demo"
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
        usecases.service.close()
        raise fail(
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

        retention = RetentionRunner(usecases.service, policy)
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


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
