"""Root of the ``berth`` command: one sub-command group per part of the platform."""

from __future__ import annotations

import signal
import sys
import tempfile
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from berth import __version__
from berth.cli import cloud, gateway, hw

app = typer.Typer(help="Berth smart-locker platform", no_args_is_help=True)
app.add_typer(gateway.app, name="gateway", help="The on-site Gateway API.")
app.add_typer(cloud.app, name="cloud", help="The partner-facing Cloud API.")
app.add_typer(hw.app, name="hw", help="Lock-control boards: scan, open, status, simulate.")
console = Console(soft_wrap=True)


@app.command()
def version() -> None:
    """Print Berth's version."""
    typer.echo(__version__)


@app.command()
def up(
    host: str = typer.Option("127.0.0.1", help="Interface both services listen on."),
    cloud_port: int = typer.Option(8000, envvar="BERTH_CLOUD_PORT", help="Cloud API port."),
    gateway_port: int = typer.Option(8080, envvar="BERTH_GATEWAY_PORT",
                                     help="Gateway API port."),
) -> None:
    """Start cloud + gateway (a demo partner's tower) + simulated boards, on SQLite."""
    from berth.settings import get_settings
    from berth.stack import Stack

    stack = Stack(get_settings(), host, cloud_port, gateway_port)
    # a plain `kill` must stop the services too, not orphan them
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        info = stack.start()
        table = Table(title="Berth is up", show_header=False)
        table.add_row("Cloud API", f"{info.cloud_url}   (docs: {info.cloud_url}/docs)")
        table.add_row("Gateway API", f"{info.gateway_url}   (admin: {info.gateway_url}/admin)")
        table.add_row("Tower id", info.tower_id)
        table.add_row("Partner client_id", info.client_id)
        table.add_row("Partner client_secret", info.client_secret)
        table.add_row("Gateway API key", info.gateway_api_key)
        console.print(table)
        console.print("Run [bold]berth demo[/bold] in another terminal for a whole delivery. "
                      "Ctrl-C stops everything.")
        while stack.alive():
            time.sleep(0.5)
        console.print("[red]A service stopped; shutting down.[/red]")
        raise typer.Exit(1)
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()


@app.command()
def demo(
    stack_file: Path | None = typer.Option(None, help="A running stack's stack.json "
                                           "(default: the one `berth up` wrote)."),
    door_timeout: float = typer.Option(60.0, help="Seconds to wait for a door to close."),
) -> None:
    """Perform the delivery guide's first delivery, step by step, with a readable trace."""
    from berth.demo import DeliveryFailed, run_delivery
    from berth.sdk.cloud import CloudClient
    from berth.sdk.gateway import GatewayClient
    from berth.settings import Settings, get_settings
    from berth.stack import STACK_FILE, Stack, StackInfo, running

    path = stack_file or get_settings().data_dir / STACK_FILE
    own: Stack | None = None
    if path.exists() and running(info := StackInfo.load(path)):
        console.print(f"Using the running stack of {path}")
    else:
        scratch = Path(tempfile.mkdtemp(prefix="berth-demo-"))
        console.print(f"No running stack: starting one in {scratch}")
        own = Stack(Settings(data_dir=scratch), cloud_port=_free_port(),
                    gateway_port=_free_port(), quiet=True)
        info = own.start()
    step = 0

    def trace(what: str, detail: str) -> None:
        nonlocal step
        step += 1
        console.print(f"[bold cyan]{step:>2}. {what:<18}[/] {detail}")

    try:
        with CloudClient(info.cloud_url, info.client_id, info.client_secret) as partner, \
                GatewayClient(info.gateway_url, info.gateway_api_key) as tower:
            report = run_delivery(partner, tower, info.tower_id, trace=trace,
                                  door_timeout=door_timeout)
        console.print(f"[green]Delivered through locker {report.locker_id} "
                      f"(door {report.gateway_locker_id}): "
                      f"{' -> '.join(report.states)}[/green]")
    except DeliveryFailed as exc:
        console.print(f"[red]Delivery failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    finally:
        if own is not None:
            own.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
