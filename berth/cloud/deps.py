"""FastAPI dependencies shared by the routers: each domain's service, the caller, path ids."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from berth.cloud.auth.credentials import OPERATOR, SERVICE_PROVIDER, TOWER_ACCESS, Principal
from berth.cloud.auth.service import AuthService
from berth.cloud.console.service import ConsoleService
from berth.cloud.events.service import EventsService
from berth.cloud.locations.service import LocationsService
from berth.cloud.lockers.service import LockersService
from berth.cloud.partners.service import PartnersService
from berth.cloud.reservations.service import ReservationsService
from berth.cloud.services import CloudServices
from berth.cloud.tokens.service import TokensService
from berth.cloud.tower_sync.service import TowerSyncService
from berth.cloud.tower_sync.wakeup import CommandWakeups
from berth.cloud.towers.service import TowersService
from berth.cloud.webhooks.service import WebhooksService
from berth.contracts.cloud import MAX_ID
from berth.kit.threads import run_blocking

_bearer = HTTPBearer(auto_error=False, description="An access token from POST /oauth/token.")


async def get_services(request: Request) -> CloudServices:
    services: CloudServices = request.app.state.services
    return services


AllServices = Annotated[CloudServices, Depends(get_services)]


def _domain(name: str) -> Callable[..., Any]:
    """A dependency giving one domain's service of the app's ``CloudServices``."""

    async def dependency(services: Annotated[CloudServices, Depends(get_services)]) -> Any:
        return getattr(services, name)

    return dependency


async def get_wakeups(request: Request) -> CommandWakeups:
    wakeups: CommandWakeups = request.app.state.command_wakeups
    return wakeups


Wakeups = Annotated[CommandWakeups, Depends(get_wakeups)]
Auth = Annotated[AuthService, Depends(_domain("auth"))]
Partners = Annotated[PartnersService, Depends(_domain("partners"))]
Towers = Annotated[TowersService, Depends(_domain("towers"))]
Lockers = Annotated[LockersService, Depends(_domain("lockers"))]
Reservations = Annotated[ReservationsService, Depends(_domain("reservations"))]
Tokens = Annotated[TokensService, Depends(_domain("tokens"))]
TowerSync = Annotated[TowerSyncService, Depends(_domain("tower_sync"))]
Events = Annotated[EventsService, Depends(_domain("events"))]
Locations = Annotated[LocationsService, Depends(_domain("locations"))]
Webhooks = Annotated[WebhooksService, Depends(_domain("webhooks"))]
Console = Annotated[ConsoleService, Depends(_domain("console"))]


def scope_required(scope: str | None) -> Callable[..., Awaitable[Principal]]:
    """A dependency that lets in only valid access tokens carrying ``scope`` (None: any).

    Async, like every dependency here: a plain ``def`` one would cost a hop to the thread pool
    per request; the client row is read (in a thread) only when it is not cached."""

    async def dependency(
        auth: Auth,
        creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        bearer = creds.credentials if creds else None
        return (auth.authorize_cached(bearer, scope)
                or await run_blocking(auth.authorize, bearer, scope))

    return dependency


def _partner_id(principal: Principal) -> int:
    # Partner scopes are only ever granted to clients of a partner.
    assert principal.partner_id is not None
    return principal.partner_id


def partner_of(scope: str) -> Callable[..., Awaitable[int]]:
    inner = scope_required(scope)

    async def dependency(principal: Annotated[Principal, Depends(inner)]) -> int:
        return _partner_id(principal)

    return dependency


ServiceProvider = Annotated[int, Depends(partner_of(SERVICE_PROVIDER))]
TowerAccess = Annotated[int, Depends(partner_of(TOWER_ACCESS))]
Operator = Annotated[Principal, Depends(scope_required(OPERATOR))]
AnyCaller = Annotated[Principal, Depends(scope_required(None))]
TowerId = Annotated[
    str, Path(pattern=r"^[0-9a-f]{16}$", description="16 lower-case hex characters.")
]
LockerId = Annotated[int, Path(ge=1, le=MAX_ID)]
PartnerId = Annotated[int, Path(ge=1, le=MAX_ID)]
