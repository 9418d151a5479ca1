"""Root of the ``berth`` command: one sub-command group per part of the platform."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.table import Table

from berth import __version__
from berth.cli import cloud, fleet, gateway, hw, webhooks
from berth.cli.signals import Stop, stop_signals

MQTT_PORT = 1883  # MQTT's registered port: the broker of `berth up --fleet` listens there

app = typer.Typer(help="Berth smart-locker platform", no_args_is_help=True)
app.add_typer(gateway.app, name="gateway", help="The on-site Gateway API.")
app.add_typer(cloud.app, name="cloud", help="The partner-facing Cloud API.")
app.add_typer(fleet.app, name="fleet", help="The fleet API: organisations, keys, sites.")
app.add_typer(hw.app, name="hw", help="Lock-control boards: scan, open, status, simulate.")
app.add_typer(webhooks.app, name="webhooks", help="A partner's webhook receiver, for trying "
              "webhooks locally.")
console = Console(soft_wrap=True)


@app.command()
def version() -> None:
    """Print Berth's version."""
    typer.echo(__version__)


@app.command()
def up(
    host: str = typer.Option("127.0.0.1", help="Interface both services listen on."),
    cloud_port: int | None = typer.Option(
        None, help="Cloud API port (BERTH_CLOUD_PORT, default 8000)."),
    gateway_port: int | None = typer.Option(
        None, help="Gateway API port (BERTH_GATEWAY_PORT, default 8080)."),
    fleet: bool = typer.Option(False, "--fleet", help="Also start a Mosquitto broker, link "
                               "both services to it and bind the site for /fleet/v1."),
    broker_port: int = typer.Option(MQTT_PORT, help="The broker's port, with --fleet."),
) -> None:
    """Start cloud + gateway (a demo partner's tower) + simulated boards, on SQLite.

    Ctrl-C or SIGTERM stops both services and exits 0.
    """
    from berth.fleet.broker import have_mosquitto
    from berth.kit.settings import get_settings
    from berth.stack import Stack, busy_port

    if fleet and not have_mosquitto():
        _refuse("--fleet needs Mosquitto: apt-get install mosquitto")
    stack = Stack(get_settings(), host, cloud_port, gateway_port,
                  broker_port=broker_port if fleet else None)
    cloud_port, gateway_port = stack.cloud_port, stack.gateway_port
    if cloud_port == gateway_port:
        _refuse(f"The cloud and the gateway cannot share port {cloud_port}.")
    ports = (cloud_port, gateway_port) + ((broker_port,) if fleet else ())
    taken = busy_port(host, ports)
    if taken is not None:  # before anything is created or printed
        _refuse(f"Port {taken} on {host} is in use (another Berth stack?). Choose free ports: "
                f"`berth up --cloud-port 8001 --gateway-port 8081`, or "
                f"`make run CLOUD_PORT=8001 GATEWAY_PORT=8081`.")
    code = 0
    with stop_signals():
        try:
            info = stack.start()
            table = Table(title="Berth is up", show_header=False)
            table.add_row("Cloud API", f"{info.cloud_url}   (docs: {info.cloud_url}/docs)")
            table.add_row("Gateway API", f"{info.gateway_url}   (admin: {info.gateway_url}/admin)")
            table.add_row("Tower id", info.tower_id)
            table.add_row("Partner client_id", info.client_id)
            table.add_row("Partner client_secret", info.client_secret)
            table.add_row("Gateway API key", info.gateway_api_key)
            if info.fleet_api_key:
                table.add_row("Broker", f"{info.broker_url}")
                table.add_row("Fleet API", f"{info.cloud_url}/fleet/v1/locations/"
                              f"{info.fleet_location_id}")
                table.add_row("Fleet API key", info.fleet_api_key)
            console.print(table)
            console.print("Run [bold]berth demo[/bold] in another terminal for a whole delivery. "
                          "Ctrl-C stops everything.")
            while stack.alive():
                time.sleep(0.5)
            console.print("[red]A service stopped; shutting down.[/red]")
            code = 1
        except Stop:
            console.print("Stopping Berth.")
        except (RuntimeError, TimeoutError) as exc:
            console.print(f"[red]Berth did not start: {exc}[/red]")
            code = 1
        finally:
            stack.stop()
    raise typer.Exit(code)


def _refuse(message: str) -> NoReturn:
    Console(stderr=True, soft_wrap=True).print(f"[red]{message}[/red]")
    raise typer.Exit(2)


@app.command()
def demo(
    stack_file: Path | None = typer.Option(None, help="A running stack's stack.json "
                                           "(default: the one `berth up` wrote)."),
    door_timeout: float = typer.Option(60.0, help="Seconds to wait for a door to close."),
    keypad: bool = typer.Option(False, "--keypad", help="Pick up with a keypad code typed at "
                                "the tower instead of the pick-up token (a recipient without "
                                "the app)."),
) -> None:
    """Perform the delivery guide's first delivery, step by step, with a readable trace.

    Without a running stack it starts its own in a temp dir, and stops and removes it at the
    end, on Ctrl-C and on SIGTERM alike.
    """
    from berth.demo import DeliveryFailed, run_delivery
    from berth.kit.settings import Settings, get_settings
    from berth.sdk.cloud import CloudClient
    from berth.sdk.gateway import GatewayClient
    from berth.stack import STACK_FILE, Stack, StackInfo, running

    path = stack_file or get_settings().data_dir / STACK_FILE
    own: Stack | None = None
    scratch: Path | None = None
    step = 0

    def trace(what: str, detail: str) -> None:
        nonlocal step
        step += 1
        console.print(f"[bold cyan]{step:>2}. {what:<18}[/] {detail}")

    with stop_signals():
        try:
            if path.exists() and running(info := StackInfo.load(path)):
                console.print(f"Using the running stack of {path}")
            else:
                scratch = Path(tempfile.mkdtemp(prefix="berth-demo-"))
                console.print(f"No running stack: starting one in {scratch}")
                own = Stack(Settings(data_dir=scratch), cloud_port=_free_port(),
                            gateway_port=_free_port(), quiet=True)
                info = own.start()
            with CloudClient(info.cloud_url, info.client_id, info.client_secret) as partner, \
                    GatewayClient(info.gateway_url, info.gateway_api_key) as tower:
                report = run_delivery(partner, tower, info.tower_id, trace=trace,
                                      door_timeout=door_timeout, keypad=keypad)
            console.print(f"[green]Delivered through locker {report.locker_id} "
                          f"(door {report.gateway_locker_id}): "
                          f"{' -> '.join(report.states)}"
                          f"{' (picked up with a keypad code)' if keypad else ''}[/green]")
        except DeliveryFailed as exc:
            console.print(f"[red]Delivery failed:[/red] {exc}")
            raise typer.Exit(1) from exc
        except Stop as stop:
            console.print(f"[yellow]Stopped by {stop}.[/yellow]")
            raise typer.Exit(128 + stop.signum) from None
        finally:
            if own is not None:
                own.stop()
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
