"""The transactions domain's records, shared by its router, service and repository."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from berth.domain.matching import Tier


@dataclass(frozen=True)
class CreateCommand:
    transaction_id: str
    tiers: tuple[Tier, ...]
    request_json: str


@dataclass(frozen=True)
class TransactionRecord:
    transaction_id: str
    locker_id: int
    created_at: datetime
    released_at: datetime | None


@dataclass(frozen=True)
class CreateOutcome:
    """``kind``: created | duplicate | no_locker | conflict."""

    kind: str
    record: TransactionRecord | None = None
