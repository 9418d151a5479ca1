"""OAuth2 client credentials (two paths: ours and the Keycloak-style one) and test-token.

Client credentials come in the form (``client_secret_post``) or in HTTP Basic
(``client_secret_basic``, RFC 6749 §2.3.1: ``base64(urlencode(id):urlencode(secret))``), the
default of most OAuth libraries. Failed attempts are counted per client id and per address;
over the budget the answer is 429 with ``Retry-After`` before any hashing is done.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated
from urllib.parse import unquote_plus

from fastapi import APIRouter, Depends, Form, Request
from fastapi.security import HTTPBasic

from berth.cloud.deps import AnyCaller, Auth
from berth.cloud.errors import BasicChallenge, responses
from berth.contracts.cloud import TokenResponse, WhoAmI
from berth.domain.errors import InvalidInput, TooManyAttempts, Unauthenticated
from berth.kit.ratelimit import FailureLimiter
from berth.kit.ratelimit import address as client_address

router = APIRouter(tags=["auth"])


class ClientSecretBasic(HTTPBasic):
    """Declares ``client_secret_basic`` in the OpenAPI document; the parsing is ours (RFC 6749)."""

    async def __call__(self, request: Request) -> str | None:  # type: ignore[override]
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        return value.strip() if scheme.lower() == "basic" else None


_basic = ClientSecretBasic(
    auto_error=False, description="client_secret_basic: client id and secret, form-urlencoded."
)


def parse_basic(value: str) -> tuple[str, str]:
    """``(client_id, client_secret)`` from a Basic credential; 401 when it is not one."""
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, ValueError) as exc:
        raise BasicChallenge("INVALID_CLIENT", "The Basic credentials are not valid base64 "
                             "of 'client_id:client_secret'.") from exc
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id:
        raise BasicChallenge("INVALID_CLIENT", "The Basic credentials must be "
                             "'client_id:client_secret'.")
    return unquote_plus(client_id), unquote_plus(secret)


def _one(name: str, in_header: str | None, in_form: str | None) -> str | None:
    if in_header is not None and in_form is not None and in_header != in_form:
        raise InvalidInput("INVALID_REQUEST",
                         f"{name} differs between the Authorization header and the form.")
    return in_header if in_header is not None else in_form


@router.post(
    "/oauth/token", response_model=TokenResponse, responses=responses(400, 401, 429, 503)
)
@router.post(
    "/realms/berth/protocol/openid-connect/token",
    response_model=TokenResponse,
    responses=responses(400, 401, 429, 503),
)
def token(
    request: Request,
    auth: Auth,
    basic: Annotated[str | None, Depends(_basic)],
    grant_type: Annotated[str, Form()],
    client_id: Annotated[str | None, Form()] = None,
    client_secret: Annotated[str | None, Form()] = None,
    scope: Annotated[str | None, Form()] = None,
) -> TokenResponse:
    """Exchange client credentials (form or HTTP Basic) for a 300 s Bearer token."""
    header_id, header_secret = parse_basic(basic) if basic is not None else (None, None)
    cid = _one("client_id", header_id, client_id)
    secret = _one("client_secret", header_secret, client_secret)
    if grant_type != "client_credentials":
        raise InvalidInput("UNSUPPORTED_GRANT_TYPE", "Only grant_type=client_credentials.")
    if not cid or secret is None:
        raise BasicChallenge("INVALID_CLIENT", "Send client_id and client_secret in the form or "
                             "in HTTP Basic.")
    limiter: FailureLimiter = request.app.state.login_limiter
    address = client_address(request.client)
    wait = limiter.retry_after(client=cid, address=address)
    if wait is not None:
        raise TooManyAttempts("TOO_MANY_ATTEMPTS",
                              f"Too many failed attempts; try again in {wait} s.",
                              retry_after=wait)
    try:
        return auth.issue_access_token(cid, secret, scope)
    except Unauthenticated as exc:
        limiter.failed(client=cid, address=address)
        if basic is not None:
            raise BasicChallenge(exc.code, exc.message) from exc
        raise


@router.post("/api/v1/login/test-token", response_model=WhoAmI, responses=responses(401, 503))
def test_token(auth: Auth, principal: AnyCaller) -> WhoAmI:
    """Echo who the token belongs to (any scope)."""
    return auth.whoami(principal)
