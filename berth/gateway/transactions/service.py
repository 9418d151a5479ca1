"""Transactions: plan and assign a locker, read, list, release, open by transaction, hold."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from berth import events as ev
from berth.contracts.gateway import CreateTransactionRequest, LockerOperationResponse
from berth.domain.errors import Conflict, NotFound, Unavailable
from berth.domain.matching import Item, MatchRequest, plan_search
from berth.gateway.batcher import GroupCommitter
from berth.gateway.doors.service import DoorService
from berth.gateway.site import Site
from berth.gateway.transactions.repository import TransactionRepository
from berth.gateway.transactions.schemas import CreateCommand, CreateOutcome, TransactionRecord
from berth.kit.threads import run_blocking

RETRY_AFTER_SECONDS = 1


class DuplicateTransaction(Conflict):
    """The transaction id exists (open or released): 409 with the existing transaction."""

    def __init__(self, record: TransactionRecord) -> None:
        super().__init__("TRANSACTION_EXISTS",
                         f"Transaction {record.transaction_id} already exists")
        self.record = record


def transaction_not_found(transaction_id: str) -> NotFound:
    return NotFound("TRANSACTION_NOT_FOUND", f"No transaction {transaction_id!r}",
                    {"transactionId": transaction_id})


@dataclass
class TransactionService:
    site: Site
    repository: TransactionRepository
    committer: GroupCommitter[CreateCommand, CreateOutcome]
    doors: DoorService
    bus: ev.EventBus

    def plan(self, body: CreateTransactionRequest) -> CreateCommand:
        """Turn a create request into a search plan (pure domain); MatchError (400) when it can
        never work."""
        item = None
        if body.width_inches is not None:
            item = Item(body.width_inches, body.height_inches or 0, body.length_inches or 0)
        request = MatchRequest(body.preferred_locker_type, tuple(body.preferred_attributes),
                               item, body.allow_fallback, body.attributes_required,
                               body.matching_strategy)
        tiers = plan_search(request, self.site.type_specs, self.site.attribute_bits)
        return CreateCommand(body.transaction_id, tuple(tiers),
                             body.model_dump_json(by_alias=True, exclude_defaults=True))

    async def create(self, body: CreateTransactionRequest) -> TransactionRecord:
        """Assign a locker through the group committer; a taken id raises
        ``DuplicateTransaction`` carrying the existing record."""
        outcome = await self.committer.submit(self.plan(body))
        if outcome.kind == "created":
            record = outcome.record
            assert record is not None
            self.bus.publish(ev.TransactionCreated(
                transaction_id=record.transaction_id, locker_id=record.locker_id,
                occurred_at=record.created_at))
            return record
        if outcome.kind == "duplicate":
            assert outcome.record is not None
            raise DuplicateTransaction(outcome.record)
        if outcome.kind == "no_locker":
            raise Conflict("NO_AVAILABLE_LOCKERS", "No free locker matches the request right now",
                           {"transactionId": body.transaction_id})
        raise Unavailable("LOCKER_ASSIGNMENT_CONFLICT",
                          "Concurrent requests competed for the same lockers; retry shortly",
                          {"transactionId": body.transaction_id},
                          retry_after=RETRY_AFTER_SECONDS)

    def get(self, transaction_id: str) -> TransactionRecord:
        record = self.repository.get(transaction_id)
        if record is None:
            raise transaction_not_found(transaction_id)
        return record

    def list_page(self, *, status: str = "active", locker_id: int | None = None,
                  since: datetime | None = None, until: datetime | None = None,
                  limit: int = 100, offset: int = 0) -> tuple[list[TransactionRecord], int]:
        return self.repository.list_page(status=status, locker_id=locker_id, since=since,
                                         until=until, limit=limit, offset=offset)

    def release_or_404(self, transaction_id: str) -> TransactionRecord:
        record = self.release(transaction_id)
        if record is None:
            raise transaction_not_found(transaction_id)
        return record

    def release(self, transaction_id: str) -> TransactionRecord | None:
        """Free the transaction's locker (None: no such transaction); says so on the bus."""
        record, released = self.repository.release(transaction_id)
        if released:
            assert record is not None and record.released_at is not None
            self.bus.publish(ev.TransactionReleased(
                transaction_id=transaction_id, locker_id=record.locker_id,
                occurred_at=record.released_at))
        return record

    def hold_locker(self, locker_id: int, transaction_id: str, holder: str) -> bool:
        """Hold one named locker for an outside owner (a cloud parcel) as an open transaction.

        False when the locker is held already, so local assignment and the outside owner never
        share a locker. Holding again under the same id is a no-op that answers True.
        """
        return self.repository.hold(locker_id, transaction_id, holder)

    async def open(self, transaction_id: str) -> LockerOperationResponse:
        """Optimistic: opens the transaction's locker without checking its service flags."""
        record = await run_blocking(self.get, transaction_id)
        if record.released_at is not None:
            raise Conflict("TRANSACTION_RELEASED",
                           f"Transaction {transaction_id} was released; its locker is not yours",
                           {"transactionId": transaction_id, "lockerId": record.locker_id})
        return await self.doors.open_locker(record.locker_id, transaction_id=transaction_id,
                                            source="transaction")
