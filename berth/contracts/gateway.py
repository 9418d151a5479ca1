"""Request and response bodies, named exactly as the seed's schemas; JSON is camelCase.

Field names are snake_case in Python and camelCase on the wire (alias generator); requests accept
either. Types are strict: a string where a number or boolean belongs is a 400, not a coercion.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from berth.domain.matching import DEFAULT_STRATEGY, MAX_DIMENSION_INCHES, MatchingStrategy

# Printable ASCII without spaces and without "/", so an id is always one URL path segment.
TRANSACTION_ID_PATTERN = r"^[!-.0-~]+$"
REASON_CODE_PATTERN = r"^[A-Z][A-Z0-9_]*$"
# Ids, offsets and tower sequence numbers are 32-bit integer columns: anything larger is a 400
# VALIDATION_ERROR at the edge, never an overflow in the database driver.
MAX_ID = 2**31 - 1
MAX_OFFSET = 2**31 - 1


def iso_ms(value: datetime) -> str:
    """One timestamp format everywhere: UTC, milliseconds and ``Z`` (the seed's example)."""
    if value.tzinfo is None:  # SQLite hands back naive datetimes; everything stored is UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


Timestamp = Annotated[datetime, PlainSerializer(iso_ms, return_type=str, when_used="json"),
                      WithJsonSchema({"type": "string", "format": "date-time",
                                      "examples": ["2019-08-24T14:15:22.123Z"]})]


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class RequestModel(CamelModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, strict=True,
                              str_max_length=500)


# --- errors ---------------------------------------------------------------------------------

class Error(CamelModel):
    """Every error response: a stable machine code plus a human message."""

    error: str = Field(examples=["NO_AVAILABLE_LOCKERS"])
    message: str
    timestamp: Timestamp
    details: dict[str, Any] | list[Any] | None = None


# --- locker types and bank types ---------------------------------------------------------------

class LockerTypeSummary(CamelModel):
    locker_type_id: int
    slug: str = Field(examples=["medium"])
    name: str


class LockerType(LockerTypeSummary):
    """Interior dimensions in inches."""

    width_inches: float
    height_inches: float
    depth_inches: float
    locker_count: int
    created_at: Timestamp


class BankType(CamelModel):
    bank_type_id: int
    key: str
    friendly_name: str = Field(examples=["DM Main"])
    description: str | None
    is_debug: bool
    locker_count: int
    created_at: Timestamp


class BankTypeAssociation(CamelModel):
    bank_locker_number: int
    locker_type: LockerType


class BankTypeWithAssociations(BankType):
    associations: list[BankTypeAssociation]


# --- lockers --------------------------------------------------------------------------------

class Locker(CamelModel):
    """A locker's independent flags; ``available`` is derived from them and its occupancy."""

    locker_id: int
    bank_id: int
    bank_name: str
    bank_locker_number: int
    locker_type: LockerTypeSummary
    attributes: list[str]
    out_of_service: bool
    operational: bool = Field(description="Hardware healthy: controller online, door works.")
    door_open: bool | None = Field(description="Door sensor; null while the state is unknown.")
    available: bool = Field(description="In service, operational and not held by a transaction.")
    reason_code: str | None = None
    reason: str | None = None
    transaction_id: str | None = Field(None, description="The open transaction holding it.")
    updated_at: Timestamp


class LockerConfig(CamelModel):
    locker_id: int
    bank_id: int
    bank_name: str
    bank_type_key: str
    bank_locker_number: int
    controller_id: str
    controller_protocol: str
    controller_address: int
    channel: int
    locker_type: LockerType
    attributes: list[str]


class UpdateLockerRequest(RequestModel):
    """Take a locker out of service (open transactions are kept) or put it back."""

    out_of_service: bool
    reason_code: str | None = Field(None, max_length=64, pattern=REASON_CODE_PATTERN,
                                    examples=["BROKEN_LOCK"])
    reason: str | None = Field(None, max_length=500)


class OperationResponse(CamelModel):
    success: bool
    message: str


class LockerOperationResponse(CamelModel):
    success: bool
    locker_id: int
    door_open: bool | None = Field(description="null (reasonCode DOOR_STATE_UNKNOWN) when an "
                                   "unlock may have fired but no reading confirmed the door")
    message: str
    reason_code: str | None = None


class OpenAllLockersResponse(CamelModel):
    """Per-locker results of opening every locker; 200 when all results agree."""

    success: bool
    message: str
    total: int
    opened: int
    failed: int
    results: list[LockerOperationResponse]


class MultiStatusOperationResponse(OpenAllLockersResponse):
    """The 207 body: some lockers opened and some did not; see each result."""


# --- transactions ---------------------------------------------------------------------------

class CreateTransactionRequest(RequestModel):
    """Assign a locker. Give all three item dimensions or none of them."""

    transaction_id: str = Field(min_length=1, max_length=128, pattern=TRANSACTION_ID_PATTERN)
    preferred_locker_type: str | None = Field(None, min_length=1, max_length=64)
    preferred_attributes: list[str] = Field(default_factory=list, max_length=16)
    width_inches: float | None = Field(None, gt=0, le=MAX_DIMENSION_INCHES)
    height_inches: float | None = Field(None, gt=0, le=MAX_DIMENSION_INCHES)
    length_inches: float | None = Field(None, gt=0, le=MAX_DIMENSION_INCHES)
    allow_fallback: bool = False
    attributes_required: bool = False
    matching_strategy: MatchingStrategy = Field(
        DEFAULT_STRATEGY, strict=False,
        description="do_not_tip: item stays upright (height vs. locker height, width and length "
        "may swap); any_orientation: any rotation fits (sorted dimensions compared).",
    )

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, strict=True, str_max_length=500,
        json_schema_extra={"examples": [{
            "transactionId": "string", "preferredLockerType": "medium",
            "preferredAttributes": ["low"], "widthInches": 18, "heightInches": 24,
            "lengthInches": 12, "allowFallback": True, "attributesRequired": True,
            "matchingStrategy": "do_not_tip"}]},
    )

    @model_validator(mode="after")
    def _all_or_no_dimensions(self) -> CreateTransactionRequest:
        given = [d is not None for d in (self.width_inches, self.height_inches,
                                         self.length_inches)]
        if any(given) and not all(given):
            raise ValueError("give widthInches, heightInches and lengthInches together, or none")
        if any(len(a) == 0 or len(a) > 64 for a in self.preferred_attributes):
            raise ValueError("each preferred attribute is 1 to 64 characters")
        return self


class TransactionResponse(CamelModel):
    transaction_id: str
    locker_id: int
    created_at: Timestamp
    released_at: Timestamp | None = None
    active: bool = True


# --- system ---------------------------------------------------------------------------------

class DeviceHeartbeatRequest(RequestModel):
    """A periodic sign of life from a device on site (kiosk, scanner, camera, ...)."""

    device_id: str = Field(min_length=1, max_length=128)
    device_type: str = Field(min_length=1, max_length=64, examples=["kiosk"])
    status: Literal["ok", "degraded", "error", "starting", "stopping"] = "ok"
    version: str | None = Field(None, max_length=64)
    details: dict[str, Any] | None = Field(None, description="Free-form, at most 4 KB as JSON.")

    @field_validator("details")
    @classmethod
    def _finite_numbers(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        """NaN and Infinity are not JSON: stored, they would come back as something else."""
        try:
            json.dumps(value, allow_nan=False)
        except ValueError:
            raise ValueError("numbers in details must be finite (no NaN or Infinity)") from None
        return value


class DeviceStatus(CamelModel):
    device_id: str
    device_type: str
    status: str
    version: str | None
    details: dict[str, Any] | None
    first_seen: Timestamp
    last_seen: Timestamp
    heartbeat_count: int


class LockController(CamelModel):
    controller_id: str
    protocol: str
    url: str | None
    address: int
    channels: int
    locker_count: int
    online: bool
    updated_at: Timestamp


class NetworkInterface(CamelModel):
    name: str
    addresses: list[str]


class System(CamelModel):
    version: str
    site_name: str
    hostname: str
    started_at: Timestamp
    uptime_seconds: float
    network: list[NetworkInterface]
    devices: list[DeviceStatus]
    controllers: list[LockController]


class LogEntry(CamelModel):
    id: int
    level: Literal["debug", "info", "warning", "error"]
    event: str
    message: str
    locker_id: int | None
    transaction_id: str | None
    timestamp: Timestamp
    details: dict[str, Any] | None


class ControllerCounts(CamelModel):
    online: int
    offline: int


class Health(CamelModel):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unavailable"]
    controllers: ControllerCounts
    version: str
    uptime_seconds: float
