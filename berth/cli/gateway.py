"""`berth gateway ...` commands."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from berth.kit.settings import Settings

if TYPE_CHECKING:
    from berth.gateway.config import GatewayConfig
    from berth.sdk.gateway import GatewayClient
from berth.tower.identity import TowerIdentity

app = typer.Typer(help="gateway commands", no_args_is_help=True)
console = Console(soft_wrap=True)


@app.command("serve")
def serve_command(
    host: str | None = typer.Option(None, help="Interface to listen on (BERTH_GATEWAY_HOST)."),
    port: int | None = typer.Option(None, help="TCP port (BERTH_GATEWAY_PORT)."),
    db: str | None = typer.Option(None, help="Database URL (BERTH_DATABASE_URL); SQLite default."),
    site: Path | None = typer.Option(None, help="Site YAML (BERTH_SITE_FILE); demo site default."),
    no_mdns: bool = typer.Option(False, "--no-mdns", help="Do not advertise by mDNS."),
    tower_keys: Path | None = typer.Option(
        None, help="Tower keys from provisioning: serve as that cloud tower (/tower/*)."),
    tower_id: str | None = typer.Option(None, help="Expected tower id (checked against keys)."),
    cloud: str | None = typer.Option(None, help="Cloud URL to sync with (overrides the keys')."),
) -> None:
    """Run the Gateway API."""
    serve(host=host, port=port, db=db, site=site, mdns=False if no_mdns else None,
          tower=_tower_identity(tower_keys, tower_id, cloud))


def _tower_identity(keys: Path | None, tower_id: str | None,
                    cloud: str | None) -> TowerIdentity | None:
    if keys is None:
        if tower_id or cloud:
            console.print("[red]--tower-id and --cloud need --tower-keys DIR[/red]")
            raise typer.Exit(2)
        return None
    try:
        identity = TowerIdentity.load(keys)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    if tower_id and tower_id.lower() != identity.tower_id:
        console.print(f"[red]The keys in {keys} are for tower {identity.tower_id}, "
                      f"not {tower_id}[/red]")
        raise typer.Exit(2)
    if cloud:
        if identity.cloud is None:
            console.print(f"[red]The keys in {keys} carry no cloud client to sync with. Link "
                          f"them on the cloud side: `berth cloud towers link "
                          f"{identity.tower_id} --out {keys} --cloud-url {cloud}`[/red]")
            raise typer.Exit(2)
        identity = replace(identity, cloud=replace(identity.cloud, url=cloud))
    return identity


def serve(host: str | None = None, port: int | None = None, db: str | None = None,
          site: Path | None = None, mdns: bool | None = None,
          tower: TowerIdentity | None = None) -> None:
    """Start the gateway (also what ``berth up`` runs): print URL and key, then serve."""
    import uvicorn

    from berth.gateway.app import create_app
    from berth.gateway.auth import resolve_api_key
    from berth.gateway.config import GatewayConfig
    from berth.gateway.site import SiteError, load_site
    from berth.kit import logs

    settings = Settings()  # read the environment now, not at first import
    try:
        loaded = load_site(site or settings.gateway.site_file)  # refuse a bad site before I/O
    except SiteError as exc:
        console.print(f"[red]Site error:[/red] {exc}")
        raise typer.Exit(2) from None
    api_key, generated = resolve_api_key(settings.gateway.api_key, settings.data_dir)
    given = {"db_url": db, "host": host, "port": port, "mdns": mdns, "tower": tower}
    config = GatewayConfig.from_settings(settings, site=loaded, api_key=api_key,
                                         **{k: v for k, v in given.items() if v is not None})
    if tower is not None:
        _claim(config.db_url, tower)
    url = f"http://{config.host}:{config.port}"
    console.print(f"[bold]Berth Gateway[/bold] for site {config.site.name!r} "
                  f"({len(config.site.lockers)} lockers) at [cyan]{url}[/cyan]")
    console.print(f"  admin page: {url}/admin   API docs: {url}/docs")
    console.print(f"  API key: {_key_origin(settings, config.api_key, generated)}")
    if tower is not None:
        sync = f", syncing with {tower.cloud.url}" if tower.cloud else ", offline only"
        console.print(f"  cloud tower {tower.tower_id} ({len(tower.lockers)} lockers{sync})")
    _simulated_boards(config, settings)
    logs.configure(settings.log_json, settings.log_level)
    # the console's live streams end by themselves; a stop waits for them at most 5 s
    uvicorn.run(create_app(config), host=config.host, port=config.port, log_level="warning",
                log_config=None, timeout_graceful_shutdown=5)


def _key_origin(settings: Settings, key: str, generated: bool) -> str:
    """Where the API key comes from; the key itself only on the start that generated it.

    Service managers keep whatever a service prints, so a key printed on every start would end
    up in their logs.
    """
    from berth.gateway.auth import KEY_FILE

    path = settings.data_dir / KEY_FILE
    if generated:
        return (f"generated, shown this once: [green]{key}[/green] "
                f"(kept in {path})")
    if settings.gateway.api_key:
        return "set by BERTH_GATEWAY_API_KEY"
    return f"kept in {path}"


def _claim(db_url: str, tower: TowerIdentity) -> None:
    """Refuse, before serving, a database whose tower tables belong to another tower."""
    from berth.storage import Database
    from berth.tower.attach import TowerMismatch, claim_database

    db = Database(db_url, pool_size=1)
    try:
        claim_database(db, tower)
    except TowerMismatch as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    finally:
        db.dispose()


def _simulated_boards(config: GatewayConfig, settings: Settings) -> None:
    """Serve the person-at-the-locker controls of ``sim://`` buses, and say how doors behave."""
    from berth.hardware import embedded_sim
    from berth.hardware.sim_control import socket_path

    simulated = [c for c in config.site.controllers if embedded_sim.is_simulated(c.url)]
    if not simulated:
        return
    embedded_sim.serve_controls(settings.data_dir.resolve())
    for url, protocol in sorted({(str(c.url), c.protocol) for c in simulated}):
        closes = sorted({c.close_after for c in simulated if c.url == url}, key=str)
        after = ", ".join("never" if c is None else f"{c:g} s" for c in closes)
        console.print(f"  {url} ({protocol}): simulated boards; an opened door closes by itself "
                      f"after {after}. Act as the person at the locker with `berth hw sim` "
                      f"(controls: {socket_path(settings.data_dir, url, protocol)})")


@app.command("open-all")
def open_all_command(
    url: str = typer.Argument(..., help="The gateway's URL (http://127.0.0.1:8080)."),
    api_key: str = typer.Option(..., envvar="BERTH_GATEWAY_API_KEY", help="Its API key."),
    as_json: bool = typer.Option(False, "--json", help="Print each locker's result as JSON."),
) -> None:
    """Open every locker one after the other, showing progress (a wave of opens at a site).

    Unlike ``POST /lockers/open-all`` (one request, unlocks staggered by the gateway), each
    door is its own request, so a long site reports as it goes; exits 1 if any stayed shut.
    """
    import json

    from berth.cli.progress import progress
    from berth.sdk.gateway import GatewayClient

    with GatewayClient(url, api_key) as gateway:
        ids = locker_ids(gateway)
        with progress("Opening", len(ids)) as step:
            results = open_each(gateway, ids, step)
    failed = [lid for lid, ok, _ in results if not ok]
    if as_json:
        typer.echo(json.dumps([{"lockerId": lid, "success": ok, "message": message}
                               for lid, ok, message in results]))
    else:
        console.print(f"Opened {len(results) - len(failed)} of {len(results)} lockers"
                      + (f"; still shut: {', '.join(map(str, failed))}" if failed else ""))
    if failed:
        raise typer.Exit(1)


def locker_ids(gateway: GatewayClient) -> list[int]:
    """Every locker of the gateway, page by page."""
    found: list[int] = []
    while page := gateway.list_lockers(limit=1000, offset=len(found)):
        found += [lk.locker_id for lk in page]
    return found


def open_each(gateway: GatewayClient, ids: list[int], step: Callable[[str], None]
              ) -> list[tuple[int, bool, str]]:
    """Open the lockers in turn: (locker id, opened?, the gateway's message) of each."""
    from berth.sdk.errors import BerthApiError

    results = []
    for lid in ids:
        try:
            answer = gateway.open_locker(lid)
            results.append((lid, answer.success, answer.message))
        except BerthApiError as exc:  # out of service, a dead board: the others still open
            results.append((lid, False, str(exc)))
        step(f"locker {lid} {'opened' if results[-1][1] else 'shut'}")
    return results
