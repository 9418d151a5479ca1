"""`berth cloud ...` commands: serve, partners, demo seed, tower provisioning, key rotation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from berth.tower.identity import GatewayLocker

app = typer.Typer(help="cloud commands", no_args_is_help=True)
partners = typer.Typer(help="Partners and their client credentials.", no_args_is_help=True)
towers = typer.Typer(help="Towers (operator tasks).", no_args_is_help=True)
keys = typer.Typer(help="The cloud's token-signing keys.", no_args_is_help=True)
locations = typer.Typer(help="Locations and the towers standing in them (operator tasks).",
                        no_args_is_help=True)
app.add_typer(partners, name="partners")
app.add_typer(locations, name="locations")
app.add_typer(towers, name="towers")
app.add_typer(keys, name="keys")

DbOption = typer.Option(None, "--db", help="Database URL; BERTH_CLOUD_DATABASE_URL or SQLite.")


def _service(db: str | None):  # type: ignore[no-untyped-def]
    from berth.cloud.app import build_service

    return build_service(_config(db))


def _config(db: str | None):  # type: ignore[no-untyped-def]
    """The cloud config of the environment's settings; ``--db`` replaces the database URL."""
    from berth.cloud.config import CloudConfig
    from berth.kit.settings import get_settings

    return CloudConfig.from_settings(get_settings(), **({"db_url": db} if db else {}))


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Default BERTH_CLOUD_HOST (127.0.0.1)."),
    port: int | None = typer.Option(None, help="Default BERTH_CLOUD_PORT (8000)."),
    db: str | None = DbOption,
) -> None:
    """Run the Cloud API (interactive docs at /docs)."""
    import uvicorn

    from berth.cloud.app import create_app
    from berth.kit import logs
    from berth.kit.settings import get_settings

    settings = get_settings()
    logs.configure(settings.log_json, settings.log_level)
    st = settings.cloud
    application = create_app(_config(db))
    host, port = host or st.host, port or st.port
    typer.echo(f"Berth Cloud API at http://{host}:{port}  (interactive docs: /docs)")
    uvicorn.run(application, host=host, port=port, log_level="warning", log_config=None)


@partners.command("create")
def partners_create(name: str, db: str | None = DbOption) -> None:
    """Create a partner and print its new client credentials (the secret is shown once)."""
    creds = _service(db).partners.create_partner(name)
    typer.echo(json.dumps(creds.model_dump(), indent=2))


@partners.command("list")
def partners_list(db: str | None = DbOption) -> None:
    table = Table("id", "name")
    for p in _service(db).partners.list_partners():
        table.add_row(str(p.id), p.name)
    Console().print(table)


@locations.command("create")
def locations_create(
    name: str,
    lat: float = typer.Option(..., help="Latitude in degrees (-90..90)."),
    lon: float = typer.Option(..., help="Longitude in degrees (-180..180)."),
    timezone: str = typer.Option(..., help="IANA timezone, e.g. Europe/Berlin."),
    street: str = typer.Option(""),
    postal_code: str = typer.Option(""),
    city: str = typer.Option(""),
    country: str = typer.Option("", help="ISO 3166-1 alpha-2, e.g. DE."),
    hours: str | None = typer.Option(None, help='Opening hours as JSON, e.g. \'{"monday": '
                                     '[{"open": "08:00", "close": "20:00"}]}\'; none: always '
                                     "open."),
    dropoff_window: int | None = typer.Option(
        None, help="Seconds a courier may take to drop off (bounds and defaults reservation "
        "and drop-off token durations); none: no window."),
    collection_window: int | None = typer.Option(
        None, help="Seconds a recipient may take to collect a parcel (then "
        "parcel.not_collected); none: no deadline."),
    db: str | None = DbOption,
) -> None:
    """Create a location and print its id."""
    from pydantic import ValidationError

    from berth.cloud.locations.schemas import LocationCreate

    try:
        body = LocationCreate.model_validate_json(json.dumps({
            "name": name, "latitude": lat, "longitude": lon, "timezone": timezone,
            "address": {"street": street, "postal_code": postal_code, "city": city,
                        "country": country},
            "opening_hours": json.loads(hours) if hours else None,
            "dropoff_window": dropoff_window, "collection_window": collection_window}))
    except (ValidationError, ValueError) as exc:
        _fail(f"invalid location: {exc}")
    typer.echo(f"location {_service(db).locations.create_location(body).id}")


@locations.command("windows")
def locations_windows(
    location_id: int,
    dropoff_window: int | None = typer.Option(
        None, help="Seconds a courier may take to drop off; 0 clears the window."),
    collection_window: int | None = typer.Option(
        None, help="Seconds a recipient may take to collect; 0 clears the deadline."),
    db: str | None = DbOption,
) -> None:
    """Set a location's dwell windows (only those given; 0 clears one)."""
    from pydantic import ValidationError

    from berth.cloud.locations.schemas import LocationPatch
    from berth.domain.errors import NotFound

    given = {name: value or None for name, value in (("dropoff_window", dropoff_window),
                                                     ("collection_window", collection_window))
             if value is not None}
    try:
        loc = _service(db).locations.update_location(location_id, LocationPatch(**given))
    except ValidationError as exc:
        _fail(f"invalid window: {exc}")
    except NotFound as exc:
        _fail(exc.message)
    typer.echo(f"location {loc.id}: drop-off window {_seconds(loc.dropoff_window)}, "
               f"collection window {_seconds(loc.collection_window)}")


def _seconds(value: int | None) -> str:
    return "none" if value is None else f"{value} s"


@locations.command("list")
def locations_list(db: str | None = DbOption) -> None:
    service = _service(db).locations
    table = Table("id", "name", "latitude", "longitude", "city", "timezone", "drop-off",
                  "collection", "towers")
    for loc in service.all_locations():
        table.add_row(str(loc.id), loc.name, str(loc.latitude), str(loc.longitude),
                      loc.address.city, loc.timezone, _seconds(loc.dropoff_window),
                      _seconds(loc.collection_window), " ".join(service.tower_ids(loc.id)))
    Console(width=160).print(table)


@locations.command("add-tower")
def locations_add_tower(location_id: int, tower_id: str, db: str | None = DbOption) -> None:
    """Put a tower in a location (a tower stands in one location: it moves there)."""
    from berth.domain.errors import NotFound

    try:
        _service(db).locations.place_tower(location_id, tower_id)
    except NotFound as exc:
        _fail(exc.message)
    typer.echo(f"tower {tower_id.lower()} stands in location {location_id}")


@app.command()
def seed(
    demo: bool = typer.Option(False, "--demo", help="Create the demo partners and tower."),
    db: str | None = DbOption,
    as_json: bool = typer.Option(False, "--json", help="Print the credentials as JSON."),
) -> None:
    """Create demo data: an operator, partner 'demo' with a 16-locker tower, partner 'other'."""
    from berth.cli.progress import progress
    from berth.cloud.seed import SEED_STEPS, seed_demo

    if not demo:
        raise typer.BadParameter("only --demo seeding exists")
    service = _service(db)
    with progress("Seeding", SEED_STEPS) as step:
        out = seed_demo(service, step)
    if as_json:
        typer.echo(json.dumps(out))
        return
    table = Table("who", "client_id", "client_secret")
    for name, creds in out["partners"].items():
        table.add_row(name, creds["client_id"], creds["client_secret"])
    table.add_row("operator", out["operator"]["client_id"], out["operator"]["client_secret"])
    Console().print(table)
    Console().print(f"tower_id: {out['tower_id']}")


OutOption = typer.Option(Path("tower-keys"), help="Where to write the tower keys (for "
                         "`berth gateway serve --tower-keys`).")
CloudUrlOption = typer.Option(None, help="Give the gateway a client of the partner so it syncs "
                              "with this cloud by itself.")


@towers.command("provision")
def towers_provision(
    tower_id: str | None = typer.Argument(None, help="An existing tower: write its keys."),
    gateway: str | None = typer.Option(None, help="Create a tower mirroring this gateway's "
                                       "lockers (its URL)."),
    gateway_key: str | None = typer.Option(None, envvar="BERTH_GATEWAY_API_KEY",
                                           help="The gateway's API key."),
    site: Path | None = typer.Option(None, help="Or mirror the lockers of this site file."),
    partner: str | None = typer.Option(None, help="The partner the new tower is assigned to "
                                       "(an existing tower: whose client --cloud-url makes)."),
    name: str = typer.Option("Berth tower", help="The new tower's name."),
    out: Path = OutOption,
    cloud_url: str | None = CloudUrlOption,
    db: str | None = DbOption,
) -> None:
    """Write the keys of an existing tower, or create a tower for a gateway and write its keys.

    Private keys go to files (mode 0600) only, never to the terminal.
    """
    from berth.cli.progress import progress
    from berth.cloud.provision import PROVISION_STEPS, existing_tower, provision_tower
    from berth.domain.errors import DomainError

    try:
        if gateway is None and site is None:
            if tower_id is None:
                raise typer.BadParameter("give a TOWER_ID, or --gateway URL / --site FILE")
            identity = existing_tower(_service(db), tower_id, cloud_url, partner)
            _saved(identity, out, f"Keys of tower [bold]{identity.tower_id}[/bold]")
            return
        if partner is None:
            raise typer.BadParameter("--partner NAME: who the new tower belongs to")
        if gateway is not None and not gateway_key:
            raise typer.BadParameter("--gateway-key (or BERTH_GATEWAY_API_KEY) is needed")
        with progress("Provisioning", PROVISION_STEPS + 1) as step:
            if gateway is not None:
                lockers = _gateway_lockers(gateway, gateway_key or "")
            else:
                from berth.gateway.site import load_site, site_lockers

                lockers = site_lockers(load_site(site))
            step(f"{len(lockers)} lockers read")
            identity = provision_tower(_service(db), partner, name, lockers,
                                       cloud_url=cloud_url, tower_id=tower_id, step=step)
    except (DomainError, ValueError) as exc:
        _fail(str(exc))
    _saved(identity, out, f"Tower [bold]{identity.tower_id}[/bold] for {partner}")


@towers.command("link")
def towers_link(
    tower_id: str = typer.Argument(..., help="The tower its gateway serves."),
    cloud_url: str = typer.Option(..., help="The cloud URL the gateway syncs with."),
    out: Path = OutOption,
    partner: str | None = typer.Option(None, help="Whose client to make, when several partners "
                                       "share the tower."),
    db: str | None = DbOption,
) -> None:
    """Link an offline-provisioned tower to its cloud: add a `tower_access` client to its keys.

    Keys already in --out are kept (they must be this tower's); otherwise they are written.
    """
    from dataclasses import replace

    from berth.cloud.provision import cloud_link, existing_tower
    from berth.domain.errors import DomainError
    from berth.tower.identity import IDENTITY_FILE, TowerIdentity

    try:
        if (out / IDENTITY_FILE).exists():
            identity = TowerIdentity.load(out)
            if identity.tower_id != tower_id.lower():
                raise ValueError(f"the keys in {out} are for tower {identity.tower_id}, "
                                 f"not {tower_id}")
            identity = replace(identity, cloud=cloud_link(_service(db), tower_id, cloud_url,
                                                          partner))
        else:
            identity = existing_tower(_service(db), tower_id, cloud_url, partner)
    except (DomainError, ValueError) as exc:
        _fail(str(exc))
    _saved(identity, out, f"Tower [bold]{identity.tower_id}[/bold] linked to {cloud_url}")


def _gateway_lockers(url: str, api_key: str) -> list[GatewayLocker]:
    """A running gateway's lockers as provisioning needs them, read through its API."""
    from berth.sdk.gateway import GatewayClient
    from berth.tower.identity import GatewayLocker

    with GatewayClient(url, api_key) as gateway:
        types = {t.locker_type_id: t for t in gateway.list_locker_types()}
        found: list[GatewayLocker] = []
        while page := gateway.list_lockers(limit=1000, offset=len(found)):
            for lk in page:
                kind = types[lk.locker_type.locker_type_id]
                found.append(GatewayLocker(lk.locker_id, kind.slug, tuple(lk.attributes),
                                           (kind.width_inches, kind.height_inches,
                                            kind.depth_inches)))
        return found


def _saved(identity, out: Path, what: str) -> None:  # type: ignore[no-untyped-def]
    identity.save(out)
    sync = (f", syncing with {identity.cloud.url}" if identity.cloud
            else "; offline (link it later with `berth cloud towers link`)")
    Console().print(f"{what}: {len(identity.lockers)} lockers; keys written to {out}{sync}. "
                    f"Start the gateway with `berth gateway serve --tower-keys {out}`.")


def _fail(message: str) -> NoReturn:
    Console(stderr=True).print(f"[red]{message}[/red]")
    raise typer.Exit(2)


@keys.command("rotate")
def keys_rotate(db: str | None = DbOption) -> None:
    """Add a new signing key and announce it to every tower; older tokens stay valid.

    Restart the cloud's servers afterwards: they sign with the newest key they loaded.
    """
    from berth.cloud.keys import KeyRing
    from berth.kit.settings import get_settings

    ring = KeyRing.rotate(Path(get_settings().data_dir) / "cloud-keys")
    told = _service(db).tower_sync.announce_keys()
    typer.echo(f"current key: {ring.current.key_id} (all: {', '.join(ring.keys)}); "
               f"announced to {told} tower(s) as a cloud_keys command")
