"""Root of the ``berth`` command: one sub-command group per part of the platform."""

from __future__ import annotations

import typer

from berth import __version__
from berth.cli import cloud, gateway, hw

app = typer.Typer(help="Berth smart-locker platform", no_args_is_help=True)
app.add_typer(gateway.app, name="gateway", help="The on-site Gateway API.")
app.add_typer(cloud.app, name="cloud", help="The partner-facing Cloud API.")
app.add_typer(hw.app, name="hw", help="Lock-control boards: scan, open, status, simulate.")


@app.command()
def version() -> None:
    """Print Berth's version."""
    typer.echo(__version__)


@app.command()
def up() -> None:
    """Start the platform on its embedded default (SQLite, simulated lock boards)."""
    from berth.cli.gateway import serve

    serve()
