"""`berth gateway ...` commands."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

app = typer.Typer(help="gateway commands", no_args_is_help=True)
console = Console(soft_wrap=True)


@app.command("serve")
def serve_command(
    host: str | None = typer.Option(None, help="Interface to listen on (BERTH_GATEWAY_HOST)."),
    port: int | None = typer.Option(None, help="TCP port (BERTH_GATEWAY_PORT)."),
    db: str | None = typer.Option(None, help="Database URL (BERTH_DATABASE_URL); SQLite default."),
    site: Path | None = typer.Option(None, help="Site YAML (BERTH_SITE_FILE); demo site default."),
    no_mdns: bool = typer.Option(False, "--no-mdns", help="Do not advertise by mDNS."),
) -> None:
    """Run the Gateway API."""
    serve(host=host, port=port, db=db, site=site, mdns=False if no_mdns else None)


def serve(host: str | None = None, port: int | None = None, db: str | None = None,
          site: Path | None = None, mdns: bool | None = None) -> None:
    """Start the gateway (also what ``berth up`` runs): print URL and key, then serve."""
    import uvicorn

    from berth.gateway.app import create_app
    from berth.gateway.config import GatewayConfig
    from berth.gateway.site import SiteError
    from berth.settings import Settings

    settings = Settings()  # read the environment now, not at first import
    try:
        config, generated = GatewayConfig.from_settings(settings, db_url=db, site_path=site,
                                                        host=host, port=port, mdns=mdns)
    except SiteError as exc:
        console.print(f"[red]Site error:[/red] {exc}")
        raise typer.Exit(2) from None
    url = f"http://{config.host}:{config.port}"
    console.print(f"[bold]Berth Gateway[/bold] for site {config.site.name!r} "
                  f"({len(config.site.lockers)} lockers) at [cyan]{url}[/cyan]")
    console.print(f"  admin page: {url}/admin   API docs: {url}/docs")
    origin = "generated and stored in " + str(settings.data_dir) if generated else "configured"
    console.print(f"  API key ({origin}): [green]{config.api_key}[/green]")
    uvicorn.run(create_app(config), host=config.host, port=config.port, log_level="warning")
