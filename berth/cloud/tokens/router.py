"""Drop-off and pick-up tokens, and releaseLocker (which declines the locker with a release
token)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Body

from berth.cloud.deps import LockerId, ServiceProvider, Tokens, TowerId
from berth.cloud.errors import responses
from berth.cloud.tokens.schemas import LockerTokenCreate, ReleaseLockerCreate
from berth.contracts.cloud import LockerToken, ReleaseLockerResult
from berth.domain.tokens import TokenKind

router = APIRouter(
    prefix="/api/v1/towers/{tower_id}/lockers/{locker_id}",
    tags=["locker tokens"],
    responses=responses(400, 401, 403, 404, 409, 503),
)


def _token_endpoint(kind: TokenKind, doc: str) -> Callable[..., LockerToken]:
    def endpoint(
        tokens: Tokens,
        partner: ServiceProvider,
        tower_id: TowerId,
        locker_id: LockerId,
        body: LockerTokenCreate,
    ) -> LockerToken:
        return tokens.issue_token(
            partner, tower_id, locker_id, kind, body.duration, body.client_info, body.purpose
        )

    endpoint.__doc__ = doc
    return endpoint


for _path, _kind, _doc in (
    (
        "/dropoff-locker-tokens",
        TokenKind.DROPOFF,
        "createDropOffToken: Available/Reserved/Rented -> Rented, Occupied -> Occupied.",
    ),
    ("/pickup-locker-tokens", TokenKind.PICKUP, "createPickUpToken: only in Occupied."),
):
    router.add_api_route(
        _path,
        _token_endpoint(_kind, _doc),
        methods=["POST"],
        response_model=LockerToken,
        status_code=201,
        name=f"create_{_kind.label}_token",
    )


@router.post("/release-locker", response_model=ReleaseLockerResult, status_code=201)
def release_locker(
    tokens: Tokens,
    partner: ServiceProvider,
    tower_id: TowerId,
    locker_id: LockerId,
    body: ReleaseLockerCreate = Body(default_factory=ReleaseLockerCreate),
) -> ReleaseLockerResult:
    """releaseLocker: Rented -> Declined; the release token is also queued for the tower."""
    return tokens.decline_locker(partner, tower_id, locker_id, body.duration)
