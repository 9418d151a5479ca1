"""`berth fleet ...`: organisations and their keys, sites bound to locations, the broker files.

Operator tasks on the cloud's database; binding a site also writes the gateway's broker
credentials (0600) and the broker's password entry for it (docs/fleet.md).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="The fleet API's organisations, keys and sites.", no_args_is_help=True)
orgs = typer.Typer(help="Organisations and their API keys.", no_args_is_help=True)
app.add_typer(orgs, name="orgs")

DbOption = typer.Option(None, "--db", help="Cloud database URL; BERTH_CLOUD_DATABASE_URL or "
                        "SQLite.")
TowerOption = typer.Option(None, "--tower", help="The cloud tower the site's gateway serves: "
                           "its cloud link rides the broker connection.")
PartnerOption = typer.Option(None, "--tower-partner", help="Whose access the tower's events "
                             "count under, when several partners share the tower.")
BrokerDir = typer.Option(..., "--broker-dir", help="The broker's files (berth fleet broker).")


def _fleet(db: str | None) -> Any:
    from berth.cli.cloud import _service

    return _service(db).fleet


def _fail(message: str) -> NoReturn:
    typer.secho(message, fg="red", err=True)
    raise typer.Exit(1)


def _run(call: Any, *args: Any) -> Any:
    from berth.domain.errors import DomainError

    try:
        return call(*args)
    except DomainError as exc:
        _fail(f"{exc.code}: {exc.message}")


@orgs.command("create")
def orgs_create(name: str, db: str | None = DbOption) -> None:
    """Create an organisation and print its API key (shown once; stored only as a hash)."""
    typer.echo(_run(_fleet(db).create_organisation, name))


@orgs.command("add-key")
def orgs_add_key(name: str, db: str | None = DbOption) -> None:
    """Another API key for an organisation (printed once)."""
    typer.echo(_run(_fleet(db).create_key, name))


@app.command()
def broker(broker_dir: Path = BrokerDir,
           port: int = typer.Option(1883, help="The listener's port (loopback)."),
           cloud_credentials: Path = typer.Option(
               ..., help="Where to write the fleet API's broker credentials (0600).")) -> None:
    """Write a Mosquitto config, password file and ACL, with the fleet API's own user."""
    from berth.fleet.broker import BrokerFiles, have_mosquitto
    from berth.fleet.client import Credentials
    from berth.fleet.protocol import CLOUD_USER

    if not have_mosquitto():
        _fail("mosquitto is not installed (apt-get install mosquitto)")
    files = BrokerFiles(broker_dir)
    files.write(port)
    password = secrets.token_urlsafe(24)
    files.add_user(CLOUD_USER, password)
    Credentials(CLOUD_USER, password).save(cloud_credentials)
    typer.echo(f"broker files in {broker_dir}: run `{' '.join(files.command())}`")


@app.command()
def bind(organisation: str, location_id: int, site_id: str,
         broker_dir: Path = BrokerDir,
         credentials: Path = typer.Option(
             ..., help="Where to write the gateway's broker credentials (0600)."),
         tower: str | None = TowerOption, tower_partner: str | None = PartnerOption,
         db: str | None = DbOption) -> None:
    """Bind a location to a gateway site: the site's broker user, the gateway's credentials
    (with --tower: the tower that gateway serves syncs over the broker too)."""
    from berth.fleet.broker import BrokerFiles
    from berth.fleet.client import Credentials

    fleet = _fleet(db)
    _run(fleet.bind_site, organisation, location_id, site_id)
    if tower is not None:
        _bind_tower(fleet, site_id, tower, tower_partner)
    password = secrets.token_urlsafe(24)
    BrokerFiles(broker_dir).add_user(site_id, password)
    Credentials(site_id, password).save(credentials)
    typer.echo(f"site {site_id} bound to location {location_id}; start its gateway with "
               f"BERTH_FLEET_SITE_ID={site_id} BERTH_FLEET_CREDENTIALS_FILE={credentials} "
               "BERTH_FLEET_BROKER_URL=mqtt://HOST:PORT (a running broker: send it SIGHUP)")


@app.command("tower")
def tower_(site_id: str, tower_id: str,
           partner: str | None = typer.Option(None, help=PartnerOption.help),
           db: str | None = DbOption) -> None:
    """Bind a site to the tower its gateway serves (replacing an earlier one): that tower's
    cloud link rides the site's broker connection, HTTP sync stays its fallback."""
    _bind_tower(_fleet(db), site_id, tower_id, partner)


def _bind_tower(fleet: Any, site_id: str, tower_id: str, partner: str | None) -> None:
    name = _run(fleet.bind_tower, site_id, tower_id, partner)
    typer.echo(f"site {site_id} serves tower {tower_id.lower()}: its events over the broker "
               f"count under partner {name}")


@app.command()
def sites(organisation: str | None = typer.Option(None, "--org"),
          db: str | None = DbOption) -> None:
    """Sites with their location and presence (as the broker last told the fleet API)."""
    table = Table("site", "organisation", "location", "presence", "since")
    for site in _run(_fleet(db).list_sites, organisation):
        table.add_row(site.site_id, site.organisation, str(site.location_id),
                      "online" if site.online else "offline", site.presence_at or "-")
    Console(width=140).print(table)
