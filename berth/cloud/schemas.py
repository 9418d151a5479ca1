"""Request and response models, named after the API's schemas.

The locker keeps the original's camelCase shape (``isLowLocker``, ``towerId``, ``accessMode``) so
integrators of the original feel at home; every other body is snake_case like the original's
token bodies (``client_info``, ``payload_auth``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

TOWER_ID_PATTERN = r"^[0-9a-fA-F]{16}$"
MAX_RESERVATION_S = 24 * 3600
MAX_TOKEN_S = 7 * 24 * 3600
MAX_ID = 2**31 - 1  # ids are 32-bit integer columns: larger input is a 422, not a DB error
MAX_SIZE_MM = 100_000


class Strict(BaseModel):
    """Request bodies: no coercion, so ``"300"`` or ``true`` is not a duration (422)."""

    model_config = ConfigDict(strict=True)


class ErrorDetail(BaseModel):
    code: str = Field(examples=["LOCKER_NOT_FOUND"])
    message: str


class ErrorBody(BaseModel):
    """Every deliberate refusal: ``{"detail": {"code", "message"}}``."""

    detail: ErrorDetail


# ---- auth -------------------------------------------------------------------------------------


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int
    refresh_token: None = None
    scope: str


class WhoAmI(BaseModel):
    client_id: str
    partner_id: int | None
    partner_name: str | None
    scopes: list[str]


# ---- towers and lockers ---------------------------------------------------------------------


class Tower(BaseModel):
    id: str = Field(description="16 hex characters (8 bytes).")
    name: str
    created_at: datetime


class LockerStatus(BaseModel):
    id: int
    name: str


class LockerType(BaseModel):
    id: int
    name: str
    description: str | None = None


class Dimensions(Strict):
    """Inner size in millimetres, where known."""

    width: int | None = Field(None, ge=1, le=MAX_SIZE_MM)
    height: int | None = Field(None, ge=1, le=MAX_SIZE_MM)
    depth: int | None = Field(None, ge=1, le=MAX_SIZE_MM)


class Locker(BaseModel):
    id: int
    name: str
    isLowLocker: bool
    towerId: str
    status: LockerStatus
    type: LockerType
    accessMode: str
    dimensions: Dimensions


class AssignedLocker(Locker):
    heldUntil: datetime | None = Field(
        None, description="When the reservation or the last drop-off token runs out, if it does."
    )


# ---- reservations and tokens --------------------------------------------------------------


class ReservationCreate(Strict):
    duration: int = Field(gt=0, le=MAX_RESERVATION_S, description="Seconds, e.g. 300.")


class Reservation(BaseModel):
    id: str
    locker_id: int
    tower_id: str
    status: Literal["active", "cancelled", "expired", "used"]
    created_at: datetime
    expires_at: datetime


class LockerTokenCreate(Strict):
    client_info: str = Field("", max_length=1000, description="Send an empty string.")
    duration: int = Field(gt=0, le=MAX_TOKEN_S, description="Seconds the token stays valid.")


class ReleaseLockerCreate(Strict):
    duration: int = Field(
        MAX_TOKEN_S, gt=0, le=MAX_TOKEN_S, description="Seconds the release token stays valid."
    )


class LockerToken(BaseModel):
    payload: str = Field(description="Hex CBOR payload; relay it unchanged to the tower.")
    payload_auth: str = Field(description="Hex Ed25519 signature over the payload.")
    token_id: str
    kind: Literal["dropoff", "pickup", "release"]
    locker_id: int
    tower_id: str
    not_before: datetime
    expires_at: datetime
    key_id: str
    generation: int


class ReleaseLockerResult(LockerToken):
    command_id: int = Field(description="The queued tower command carrying this release token.")


# ---- tower sync (SDK) -----------------------------------------------------------------------


class TowerEvent(BaseModel):
    """One event from the tower's log, exactly as the tower signed it (extra fields allowed)."""

    model_config = ConfigDict(extra="allow", strict=True)

    tower_id: str = Field(max_length=16)
    seq: int = Field(ge=0, le=2**63 - 1)
    type: str = Field(max_length=40)
    timestamp: int = Field(ge=0, le=2**63 - 1)
    locker_id: int | None = Field(None, ge=1, le=MAX_ID)
    token_id: str | None = Field(None, max_length=32)
    command_id: int | None = Field(None, ge=1, le=MAX_ID)
    signature: str = Field(max_length=128)


class EventBatch(Strict):
    events: list[TowerEvent] = Field(min_length=1, max_length=500)


class EventResult(BaseModel):
    seq: int
    outcome: Literal["applied", "recorded", "duplicate", "ignored"]
    code: str | None = Field(None, description="Why an event changed nothing, when it did not.")


class EventBatchResult(BaseModel):
    results: list[EventResult]


class Command(BaseModel):
    id: int
    kind: Literal["release_token", "cloud_keys"]
    locker_id: int | None
    token_id: str | None
    payload: str | None
    payload_auth: str | None
    created_at: datetime


class CommandList(BaseModel):
    commands: list[Command]


# ---- operator ---------------------------------------------------------------------------------


class PartnerCreate(Strict):
    name: str = Field(min_length=1, max_length=100)


class ClientCredentials(BaseModel):
    partner_id: int | None
    name: str
    client_id: str
    client_secret: str = Field(description="Shown once; only its argon2 hash is stored.")
    scopes: list[str]


class Partner(BaseModel):
    id: int
    name: str


class TowerCreate(Strict):
    name: str = Field(min_length=1, max_length=100)
    id: str | None = Field(None, pattern=TOWER_ID_PATTERN, description="Random when omitted.")


class LockerCreate(Strict):
    name: str = Field(min_length=1, max_length=50)
    type: Literal["small", "medium", "large", "xlarge"] = "medium"
    isLowLocker: bool = False
    accessMode: str = Field("public", max_length=20)
    dimensions: Dimensions = Dimensions()


class LockersCreate(Strict):
    lockers: list[LockerCreate] = Field(min_length=1, max_length=1000)


class OutOfServiceUpdate(Strict):
    outOfService: bool


class TowerProvisioning(BaseModel):
    """What an installer loads into a tower; operators only."""

    tower_id: str
    tower_private_key: str = Field(description="Hex raw Ed25519 private key of the tower.")
    tower_public_key: str
    cloud_public_keys: dict[str, str] = Field(description="Key id -> hex raw Ed25519 public key.")
    generations: dict[int, int] = Field(description="Locker id -> current token generation.")


# ---- the partner's event stream (the outbox) --------------------------------------------------

MAX_EVENTS_PAGE = 500


class PartnerEvent(BaseModel):
    """One outbox event as partners and consumers see it; ``position`` orders a partner's stream
    without gaps, so ``(partner_id, position)`` is also the id to deduplicate redeliveries by."""

    type: str = Field(description="locker.state_changed, reservation.created, "
                      "reservation.cancelled, reservation.expired, reservation.used, "
                      "token.issued or tower.event_applied.")
    partner_id: int
    position: int
    tower_id: str
    locker_id: int | None
    occurred_at: datetime
    data: dict[str, Any]


class EventPage(BaseModel):
    events: list[PartnerEvent]
    next_after: int = Field(description="Pass as ``after`` to read on (the last position "
                            "returned, or the ``after`` given when there was nothing new).")
