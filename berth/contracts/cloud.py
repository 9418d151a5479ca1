"""The Cloud API's response bodies the SDK parses: shared by the cloud and its clients.

The locker keeps the original's camelCase shape (``isLowLocker``, ``towerId``, ``accessMode``) so
integrators of the original feel at home; every other body is snake_case like the original's
token bodies (``client_info``, ``payload_auth``). Request bodies the server alone validates stay
in the cloud's domain packages (``berth/cloud/<domain>/schemas.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_ID = 2**31 - 1  # ids are 32-bit integer columns: larger input is a 422, not a DB error
MAX_SIZE_MM = 100_000


class Strict(BaseModel):
    """Request bodies: no coercion, so ``"300"`` or ``true`` is not a duration (422)."""

    model_config = ConfigDict(strict=True)


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
    collectBy: datetime | None = Field(
        None, description="An occupied locker's collection deadline (its location's collection "
        "window from when the parcel landed), if it has one.")


# ---- reservations and tokens --------------------------------------------------------------


class Reservation(BaseModel):
    id: str
    locker_id: int
    tower_id: str
    status: Literal["active", "cancelled", "expired", "used"]
    created_at: datetime
    expires_at: datetime


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
    keypad_code: str | None = Field(
        None, description="Only for a pick-up token asked for with keypad_code: the 6-8 digit "
        "code that opens the locker at the tower's keypad (POST /tower/keypad). Shown once: "
        "the cloud keeps no copy, the tower only a salted hash. Send it to the recipient.")


class ReleaseLockerResult(LockerToken):
    command_id: int = Field(description="The queued tower command carrying this release token.")


# ---- tower sync (SDK) -----------------------------------------------------------------------


class EventResult(BaseModel):
    seq: int
    outcome: Literal["applied", "recorded", "duplicate", "ignored"]
    code: str | None = Field(None, description="Why an event changed nothing, when it did not.")


class EventBatchResult(BaseModel):
    results: list[EventResult]


class Command(BaseModel):
    id: int
    kind: Literal["release_token", "cloud_keys", "keypad_code"]
    locker_id: int | None
    token_id: str | None
    payload: str | None
    payload_auth: str | None
    created_at: datetime


class CommandList(BaseModel):
    commands: list[Command]
    waited: bool = Field(False, description="True when the cloud held the request for `wait` "
                         "(long-poll): the tower may ask again at once. A cloud without "
                         "long-polls never sends it, so the tower then waits its interval.")


# ---- the partner's event stream (the outbox) --------------------------------------------------


class PartnerEvent(BaseModel):
    """One outbox event as partners and consumers see it; ``position`` orders a partner's stream
    without gaps, so ``(partner_id, position)`` is also the id to deduplicate redeliveries by."""

    type: str = Field(description="locker.state_changed, reservation.created, "
                      "reservation.cancelled, reservation.expired, reservation.used, "
                      "token.issued, tower.event_applied or tower.keypad_locked.")
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


# ---- locations ----------------------------------------------------------------------------

HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$"


class Closed(Strict):
    """A request part whose unknown keys are mistakes (``funday``), refused with 422."""

    model_config = ConfigDict(strict=True, extra="forbid")


class OpeningInterval(Closed):
    """Open from ``open`` (inclusive) to ``close`` (exclusive), local time; ``24:00`` ends the
    day. An interval never runs past midnight: split it over two weekdays."""

    open: str = Field(pattern=HHMM, examples=["08:00"])
    close: str = Field(pattern=HHMM, examples=["20:00"])


class OpeningHours(Closed):
    """Intervals per weekday; a weekday left out (or empty) is closed all day."""

    monday: list[OpeningInterval] = Field(default_factory=list, max_length=8)
    tuesday: list[OpeningInterval] = Field(default_factory=list, max_length=8)
    wednesday: list[OpeningInterval] = Field(default_factory=list, max_length=8)
    thursday: list[OpeningInterval] = Field(default_factory=list, max_length=8)
    friday: list[OpeningInterval] = Field(default_factory=list, max_length=8)
    saturday: list[OpeningInterval] = Field(default_factory=list, max_length=8)
    sunday: list[OpeningInterval] = Field(default_factory=list, max_length=8)


class Address(Closed):
    street: str = Field("", max_length=200, examples=["Europaplatz 1"])
    postal_code: str = Field("", max_length=20, examples=["10557"])
    city: str = Field("", max_length=100, examples=["Berlin"])
    country: str = Field("", max_length=2, description="ISO 3166-1 alpha-2, e.g. DE.")


class Location(BaseModel):
    id: int
    name: str
    latitude: float
    longitude: float
    address: Address
    opening_hours: OpeningHours | None = Field(
        description="Per weekday; null: open around the clock.")
    timezone: str = Field(description="IANA name, e.g. Europe/Berlin.")
    dropoff_window: int | None = Field(
        None, description="Seconds a courier may take to drop off: a reservation or drop-off "
        "token here lasts at most this long (and this long when no duration is given); null: "
        "no window.")
    collection_window: int | None = Field(
        None, description="Seconds a recipient may take to collect a parcel from when it lands; "
        "then parcel.not_collected is sent; null: no deadline.")


class NearbyLocation(Location):
    distance_m: float = Field(description="Great-circle distance from the point asked about.")


class TypeAvailability(BaseModel):
    type: str
    available: int
    total: int
    fits: bool | None = Field(None, description="With item dimensions: whether a locker of this "
                              "type takes the item (null without dimensions).")
    fitting_available: int | None = Field(None, description="Free lockers of this type that take "
                                          "the item (null without dimensions).")


class Availability(BaseModel):
    location_id: int
    open_now: bool = Field(description="By the opening hours, now, in the location's timezone.")
    available: int = Field(description="Lockers free to reserve now.")
    total: int
    by_type: list[TypeAvailability]
    fitting_types: list[str] | None = Field(None, description="With item dimensions: the "
                                            "locker types that take the item.")
    fitting_available: int | None = Field(None, description="With item dimensions: free "
                                          "lockers that take the item.")


# ---- webhooks ---------------------------------------------------------------------------------


class WebhookEndpoint(BaseModel):
    """A partner's webhook endpoint; its secret is shown only at creation and rotation."""

    id: str
    url: str
    event_types: list[str] = Field(description="Types delivered; empty: every type.")
    enabled: bool
    disabled_reason: str | None = Field(
        None, description="FAILING when Berth disabled it after failing for too long.")
    failing_since: datetime | None
    created_at: datetime


class WebhookEndpointCreated(WebhookEndpoint):
    secret: str = Field(description="Standard Webhooks signing secret (whsec_...); shown once.")


class WebhookSecret(BaseModel):
    secret: str = Field(description="The new signing secret (whsec_...); shown once.")
    previous_valid_until: datetime = Field(
        description="Until then deliveries carry both signatures (old and new).")


class WebhookDelivery(BaseModel):
    id: int
    webhook_id: str = Field(description="The webhook-id header: stable per event and endpoint.")
    type: str
    status: Literal["pending", "succeeded"]
    attempts: int
    last_status_code: int | None = Field(description="None: no answer (refused, timeout).")
    latency_ms: int | None
    response_excerpt: str | None = Field(description="The answer's first 500 characters, "
                                                     "or why there was none.")
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
