"""OAuth2 client credentials (two paths: ours and the Keycloak-style one) and test-token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form

from berth.cloud.deps import AnyCaller, Service
from berth.cloud.errors import BadRequest, responses
from berth.cloud.schemas import TokenResponse, WhoAmI

router = APIRouter(tags=["auth"])


@router.post("/oauth/token", response_model=TokenResponse, responses=responses(400, 401, 429))
@router.post(
    "/realms/berth/protocol/openid-connect/token",
    response_model=TokenResponse,
    responses=responses(400, 401, 429),
)
def token(
    service: Service,
    grant_type: Annotated[str, Form()],
    client_id: Annotated[str, Form()],
    client_secret: Annotated[str, Form()],
    scope: Annotated[str | None, Form()] = None,
) -> TokenResponse:
    """Exchange client credentials for a 300 s Bearer token (scopes space-separated)."""
    if grant_type != "client_credentials":
        raise BadRequest("UNSUPPORTED_GRANT_TYPE", "Only grant_type=client_credentials.")
    return service.issue_access_token(client_id, client_secret, scope)


@router.post("/api/v1/login/test-token", response_model=WhoAmI, responses=responses(401))
def test_token(service: Service, principal: AnyCaller) -> WhoAmI:
    """Echo who the token belongs to (any scope)."""
    return service.whoami(principal)
