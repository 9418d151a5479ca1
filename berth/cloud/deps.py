"""FastAPI dependencies shared by the routers: the service, the caller, validated path ids."""

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from berth.cloud.auth import OPERATOR, SERVICE_PROVIDER, TOWER_ACCESS, Principal
from berth.cloud.schemas import MAX_ID
from berth.cloud.service import CloudService

_bearer = HTTPBearer(auto_error=False, description="An access token from POST /oauth/token.")


def get_service(request: Request) -> CloudService:
    return request.app.state.service


def scope_required(scope: str | None) -> Callable[..., Principal]:
    """A dependency that lets in only valid access tokens carrying ``scope`` (None: any)."""

    def dependency(
        service: Annotated[CloudService, Depends(get_service)],
        creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        return service.authorize(creds.credentials if creds else None, scope)

    return dependency


def _partner_id(principal: Principal) -> int:
    # Partner scopes are only ever granted to clients of a partner.
    assert principal.partner_id is not None
    return principal.partner_id


def partner_of(scope: str) -> Callable[..., int]:
    inner = scope_required(scope)

    def dependency(principal: Annotated[Principal, Depends(inner)]) -> int:
        return _partner_id(principal)

    return dependency


Service = Annotated[CloudService, Depends(get_service)]
ServiceProvider = Annotated[int, Depends(partner_of(SERVICE_PROVIDER))]
TowerAccess = Annotated[int, Depends(partner_of(TOWER_ACCESS))]
Operator = Annotated[Principal, Depends(scope_required(OPERATOR))]
AnyCaller = Annotated[Principal, Depends(scope_required(None))]
TowerId = Annotated[
    str, Path(pattern=r"^[0-9a-f]{16}$", description="16 lower-case hex characters.")
]
LockerId = Annotated[int, Path(ge=1, le=MAX_ID)]
PartnerId = Annotated[int, Path(ge=1, le=MAX_ID)]
