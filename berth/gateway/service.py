"""The gateway's use cases: routers translate HTTP to these calls and nothing else.

Blocking database work runs in worker threads; lock-controller work stays on the event loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from pathlib import Path
from typing import Any

import ifaddr
from starlette.concurrency import run_in_threadpool

from berth import __version__
from berth import events as ev
from berth.domain.matching import Item, MatchError, MatchRequest, plan_search
from berth.gateway import schemas as s
from berth.gateway import tables as t
from berth.gateway.audit import AuditLog, controller_message
from berth.gateway.batcher import GroupCommitter
from berth.gateway.config import GatewayConfig
from berth.gateway.errors import ApiError
from berth.gateway.store import (
    CreateCommand,
    CreateOutcome,
    GatewayStore,
    LogFilter,
    TransactionRecord,
    as_utc,
)
from berth.hardware.driver import DoorState, LockController
from berth.hardware.factory import build_controller
from berth.hardware.opening import open_door
from berth.hardware.watcher import DoorEvent, DoorEventKind, DoorWatcher
from berth.storage import migrate
from berth.storage.engine import Database

log = logging.getLogger("berth.gateway")
MIGRATIONS = Path(__file__).with_name("migrations")
RETRY_AFTER_SECONDS = "1"


class GatewayService:
    """``bus`` carries what happens here to whoever listens (audit log, tower, tests); the
    service starts and stops it, after its producers stop and before the database closes."""

    def __init__(self, config: GatewayConfig, bus: ev.EventBus | None = None) -> None:
        self.config = config
        self.site = config.site
        self.clock = config.clock
        self.db = Database(config.db_url)
        self.store = GatewayStore(self.db, self.site, self.clock)
        self.controllers: dict[str, LockController] = config.controllers or {
            spec.controller_id: build_controller(spec) for spec in self.site.controllers}
        self.watcher = DoorWatcher(self.controllers.values(), self._on_door_event,
                                   interval=config.door_poll_interval)
        self.committer: GroupCommitter[CreateCommand, CreateOutcome] = GroupCommitter(
            self.store.create_batch, config.max_batch)
        self.bus = bus or ev.EventBus()
        self.audit = AuditLog(self.store, self.bus)
        self._counts_cache: tuple[dict[int, int], dict[int, int]] | None = None
        self._created_cache: dict[tuple[str, int], Any] = {}
        self._started_mono = time.monotonic()
        self.started_at = self.clock()

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        await self.bus.start()
        await run_in_threadpool(migrate.upgrade, self.db, MIGRATIONS)
        await run_in_threadpool(self.store.sync_site)
        for controller in self.controllers.values():
            await controller.start()
        await self.committer.start()
        await self.watcher.start()

    async def stop(self) -> None:
        await self.watcher.aclose()
        await self.committer.aclose()
        for controller in self.controllers.values():
            await controller.aclose()
        await self.bus.stop()  # subscribers finish what they heard while the database is open
        self.db.dispose()

    @property
    def uptime(self) -> float:
        return time.monotonic() - self._started_mono

    # --- health and system ------------------------------------------------------------------

    def health(self) -> s.Health:
        db_ok = self.db.ping()
        online = sum(1 for c in self.controllers.values() if c.online)
        return s.Health(status="ok" if db_ok else "degraded",
                        database="ok" if db_ok else "unavailable",
                        controllers=s.ControllerCounts(online=online,
                                                       offline=len(self.controllers) - online),
                        version=__version__, uptime_seconds=round(self.uptime, 3))

    def system(self) -> s.System:
        network = [s.NetworkInterface(name=a.nice_name, addresses=[
            ip.ip if isinstance(ip.ip, str) else ip.ip[0] for ip in a.ips])
            for a in ifaddr.get_adapters()]
        devices = [s.DeviceStatus(
            device_id=r.device_id, device_type=r.device_type, status=r.status,
            version=r.version, details=json.loads(r.details) if r.details else None,
            first_seen=as_utc(r.first_seen), last_seen=as_utc(r.last_seen),
            heartbeat_count=r.count) for r in self.store.list_devices()]
        return s.System(version=__version__, site_name=self.site.name,
                        hostname=socket.gethostname(), started_at=self.started_at,
                        uptime_seconds=round(self.uptime, 3), network=network,
                        devices=devices, controllers=self.list_controllers())

    def list_controllers(self) -> list[s.LockController]:
        return [s.LockController(controller_id=r.id, protocol=r.protocol, url=r.url,
                                 address=r.address, channels=r.channels,
                                 locker_count=r.locker_count, online=r.online,
                                 updated_at=as_utc(r.updated_at))
                for r in self.store.list_controllers()]

    def heartbeat(self, body: s.DeviceHeartbeatRequest) -> s.OperationResponse:
        if body.details is not None and len(json.dumps(body.details)) > 4096:
            raise ApiError(400, "VALIDATION_ERROR", "details: at most 4 KB of JSON",
                           [{"field": "details", "message": "too large", "type": "too_long"}])
        new = self.store.record_heartbeat(body.device_id, body.device_type, body.status,
                                          body.version, body.details)
        what = "registered" if new else "updated"
        return s.OperationResponse(success=True, message=f"Device {body.device_id} {what}")

    def logs(self, flt: LogFilter) -> tuple[list[s.LogEntry], int]:
        rows, total = self.store.list_logs(flt)
        return [s.LogEntry(id=r.id, level=r.level, event=r.event, message=r.message,
                           locker_id=r.locker_id, transaction_id=r.transaction_id,
                           timestamp=as_utc(r.timestamp),
                           details=json.loads(r.details) if r.details else None)
                for r in rows], total

    # --- transactions -----------------------------------------------------------------------

    def plan(self, body: s.CreateTransactionRequest) -> CreateCommand:
        """Turn a create request into a search plan (pure domain); 400 when it can never work."""
        item = None
        if body.width_inches is not None:
            item = Item(body.width_inches, body.height_inches or 0, body.length_inches or 0)
        request = MatchRequest(body.preferred_locker_type, tuple(body.preferred_attributes),
                               item, body.allow_fallback, body.attributes_required,
                               body.matching_strategy)
        try:
            tiers = plan_search(request, self.site.type_specs, self.site.attribute_bits)
        except MatchError as exc:
            raise ApiError(400, exc.code, exc.message, exc.details) from None
        return CreateCommand(body.transaction_id, tuple(tiers),
                             body.model_dump_json(by_alias=True, exclude_defaults=True))

    async def create_transaction(self, body: s.CreateTransactionRequest) -> TransactionRecord:
        """Assign a locker through the group committer; errors carry the existing record."""
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
            raise ApiError(409, "NO_AVAILABLE_LOCKERS",
                           "No free locker matches the request right now",
                           {"transactionId": body.transaction_id})
        raise ApiError(503, "LOCKER_ASSIGNMENT_CONFLICT",
                       "Concurrent requests competed for the same lockers; retry shortly",
                       {"transactionId": body.transaction_id},
                       headers={"Retry-After": RETRY_AFTER_SECONDS})

    def get_transaction(self, transaction_id: str) -> TransactionRecord:
        record = self.store.get_transaction(transaction_id)
        if record is None:
            raise _tx_not_found(transaction_id)
        return record

    def release_transaction(self, transaction_id: str) -> TransactionRecord:
        record = self.release(transaction_id)
        if record is None:
            raise _tx_not_found(transaction_id)
        return record

    def release(self, transaction_id: str) -> TransactionRecord | None:
        """Free the transaction's locker (None: no such transaction); says so on the bus."""
        record, released = self.store.release_transaction(transaction_id)
        if released:
            assert record is not None and record.released_at is not None
            self.bus.publish(ev.TransactionReleased(
                transaction_id=transaction_id, locker_id=record.locker_id,
                occurred_at=record.released_at))
        return record

    async def open_by_transaction(self, transaction_id: str) -> s.LockerOperationResponse:
        """Optimistic: opens the transaction's locker without checking its service flags."""
        record = await run_in_threadpool(self.get_transaction, transaction_id)
        if record.released_at is not None:
            raise ApiError(409, "TRANSACTION_RELEASED",
                           f"Transaction {transaction_id} was released; its locker is not yours",
                           {"transactionId": transaction_id, "lockerId": record.locker_id})
        return await self.open_locker(record.locker_id, transaction_id=transaction_id,
                                      source="transaction")

    # --- lockers ----------------------------------------------------------------------------

    def locker_view(self, row: Any) -> s.Locker:
        lt_id, lt = row.locker_type_id, self.site.spec.locker_types[row.locker_type_id - 1]
        available = (not row.occupied and not row.out_of_service and row.operational
                     and row.door_open is not None)
        code = reason = None
        if row.out_of_service:
            code, reason = row.service_reason_code, row.service_reason
        elif not row.operational:
            code, reason = row.fault_code, row.fault_reason
        elif row.occupied:
            code, reason = "IN_USE", "Held by an open transaction"
        elif row.door_open is None:
            code, reason = "DOOR_STATE_UNKNOWN", "The controller missed a poll; not assigned"
        return s.Locker(
            locker_id=row.id, bank_id=row.bank_id,
            bank_name=self.site.spec.banks[row.bank_id - 1].name,
            bank_locker_number=row.bank_locker_number,
            locker_type=s.LockerTypeSummary(locker_type_id=lt_id, slug=lt.slug, name=lt.name),
            attributes=[a for a in row.attributes.split(",") if a],
            out_of_service=row.out_of_service, operational=row.operational,
            door_open=row.door_open, available=available, reason_code=code, reason=reason,
            transaction_id=row.transaction_id, updated_at=as_utc(row.updated_at))

    def list_lockers(self, *, locker_type: str | None, bank_id: int | None,
                     available: bool | None, out_of_service: bool | None, limit: int,
                     offset: int) -> tuple[list[s.Locker], int]:
        type_id = None
        if locker_type is not None:
            type_id = self.site.type_ids.get(locker_type)
            if type_id is None:
                raise ApiError(400, "UNKNOWN_LOCKER_TYPE", f"Unknown locker type {locker_type!r}",
                               {"known": sorted(self.site.type_ids)})
        rows, total = self.store.list_lockers(type_id=type_id, bank_id=bank_id,
                                              available=available,
                                              out_of_service=out_of_service, limit=limit,
                                              offset=offset)
        return [self.locker_view(r) for r in rows], total

    def get_locker(self, locker_id: int) -> s.Locker:
        row = self.store.get_locker(locker_id)
        if row is None:
            raise _locker_not_found(locker_id)
        return self.locker_view(row)

    def locker_config(self, locker_id: int) -> s.LockerConfig:
        lk = self.site.lockers_by_id.get(locker_id)
        if lk is None:
            raise _locker_not_found(locker_id)
        bank = self.site.spec.banks[lk.bank_id - 1]
        return s.LockerConfig(
            locker_id=lk.id, bank_id=lk.bank_id, bank_name=bank.name,
            bank_type_key=bank.bank_type, bank_locker_number=lk.bank_locker_number,
            controller_id=lk.controller_id, controller_protocol=bank.controller.protocol,
            controller_address=bank.controller.address, channel=lk.channel,
            locker_type=self.locker_type(lk.type_id), attributes=list(lk.attributes))

    def update_locker(self, locker_id: int, body: s.UpdateLockerRequest) -> s.Locker:
        row = self.store.set_service(locker_id, body.out_of_service, body.reason_code,
                                     body.reason)
        if row is None:
            raise _locker_not_found(locker_id)
        self._flags_changed(row)
        return self.locker_view(row)

    def _flags_changed(self, row: Any) -> None:
        code = (row.service_reason_code if row.out_of_service
                else row.fault_code if not row.operational else None)
        self.bus.publish(ev.LockerFlagsChanged(
            locker_id=row.id, out_of_service=row.out_of_service, operational=row.operational,
            reason_code=code, occurred_at=self.clock()))

    async def open_locker(self, locker_id: int, *, transaction_id: str | None = None,
                          source: str = "maintenance") -> s.LockerOperationResponse:
        """Open one door by the open rule; failures are reported, never raised."""
        lk = self.site.lockers_by_id.get(locker_id)
        if lk is None:
            raise _locker_not_found(locker_id)
        controller = self.controllers.get(lk.controller_id)
        self.watcher.note_unlock(lk.controller_id, lk.channel)
        try:
            if controller is None:
                raise LookupError(f"no lock controller {lk.controller_id!r} is running")
            outcome = await open_door(controller, lk.channel, self.config.policy)
            success, door_open = outcome.success, outcome.door_open
            message, code = outcome.message, outcome.reason_code
        except Exception as exc:  # a driver bug must not become a 500
            log.exception("opening locker %s failed", locker_id)
            success, door_open, message, code = False, False, f"Driver error: {exc}", "DRIVER_ERROR"
        await run_in_threadpool(self.store.record_open, locker_id, success=success,
                                door_open=door_open, message=message, reason_code=code,
                                transaction_id=transaction_id, source=source)
        if success:
            if await run_in_threadpool(self.store.clear_fault, locker_id, "DOOR_DID_NOT_OPEN"):
                await self._publish_flags(locker_id)
        elif code == "DOOR_DID_NOT_OPEN":
            await run_in_threadpool(self.store.set_fault, locker_id, code, message)
            self.bus.publish(ev.DoorJammed(controller_id=lk.controller_id, channel=lk.channel,
                                           locker_id=locker_id, transaction_id=transaction_id,
                                           reason=message, occurred_at=self.clock()))
            await self._publish_flags(locker_id)
        return s.LockerOperationResponse(success=success, locker_id=locker_id,
                                         door_open=door_open, message=message, reason_code=code)

    async def _publish_flags(self, locker_id: int) -> None:
        row = await run_in_threadpool(self.store.get_locker, locker_id)
        if row is not None:
            self._flags_changed(row)

    async def open_all(self) -> s.OpenAllLockersResponse:
        """Open every locker, unlocks staggered by ``open_all_gap`` to spare the power supply."""
        gap = self.config.open_all_gap

        async def staggered(index: int, locker_id: int) -> s.LockerOperationResponse:
            await asyncio.sleep(index * gap)
            return await self.open_locker(locker_id, source="open-all")

        results = await asyncio.gather(*(staggered(i, lk.id)
                                         for i, lk in enumerate(self.site.lockers)))
        opened = sum(1 for r in results if r.success)
        failed = len(results) - opened
        mixed = opened and failed
        cls = s.MultiStatusOperationResponse if mixed else s.OpenAllLockersResponse
        message = (f"Opened {opened} of {len(results)} lockers" if failed
                   else f"Opened all {opened} lockers")
        return cls(success=failed == 0, message=message, total=len(results), opened=opened,
                   failed=failed, results=list(results))

    # --- locker types and bank types --------------------------------------------------------

    def locker_type(self, type_id: int) -> s.LockerType:
        if not 1 <= type_id <= len(self.site.spec.locker_types):
            raise ApiError(404, "LOCKER_TYPE_NOT_FOUND", f"No locker type {type_id}",
                           {"lockerTypeId": type_id})
        lt = self.site.spec.locker_types[type_id - 1]
        counts, _ = self._counts()
        return s.LockerType(locker_type_id=type_id, slug=lt.slug, name=lt.name,
                            width_inches=lt.width, height_inches=lt.height,
                            depth_inches=lt.depth, locker_count=counts.get(type_id, 0),
                            created_at=self._created(t.locker_types, type_id))

    def locker_types(self) -> list[s.LockerType]:
        return [self.locker_type(i) for i, _ in self.site.locker_types]

    def bank_type(self, bank_type_id: int) -> s.BankTypeWithAssociations:
        if not 1 <= bank_type_id <= len(self.site.spec.bank_types):
            raise ApiError(404, "BANK_TYPE_NOT_FOUND", f"No bank type {bank_type_id}",
                           {"bankTypeId": bank_type_id})
        bt = self.site.spec.bank_types[bank_type_id - 1]
        _, counts = self._counts()
        associations = [s.BankTypeAssociation(
            bank_locker_number=n, locker_type=self.locker_type(self.site.type_ids[slot.type]))
            for n, slot in bt.associations.items()]
        return s.BankTypeWithAssociations(
            bank_type_id=bank_type_id, key=bt.key, friendly_name=bt.friendly_name,
            description=bt.description, is_debug=bt.is_debug,
            locker_count=counts.get(bank_type_id, 0),
            created_at=self._created(t.bank_types, bank_type_id), associations=associations)

    def bank_types(self) -> list[s.BankType]:
        return [s.BankType.model_validate(self.bank_type(i).model_dump(exclude={"associations"}))
                for i, _ in self.site.bank_types]

    def _counts(self) -> tuple[dict[int, int], dict[int, int]]:
        """Static for the life of the process (the site does not change while running)."""
        if self._counts_cache is None:
            self._counts_cache = self.store.locker_counts()
        return self._counts_cache

    def _created(self, table: Any, row_id: int) -> Any:
        key = (table.name, row_id)
        if key not in self._created_cache:
            self._created_cache[key] = self.store.created_at(table, row_id)
        return self._created_cache[key]

    # --- door watcher -----------------------------------------------------------------------

    async def _on_door_event(self, event: DoorEvent) -> None:
        # plain asyncio hand-off: stopping the watcher must be able to cancel this wait
        await asyncio.to_thread(self.record_door_event, event)

    def record_door_event(self, event: DoorEvent) -> None:
        """Record what a watcher event says about doors and controllers, then publish it.

        The flags are written first (assignment reads them); the audit log, the tower and any
        other listener hear the typed event on the bus.
        """
        kind, cid, now = event.kind, event.controller_id, self.clock()
        if kind in (DoorEventKind.DOORS_UNKNOWN, DoorEventKind.DOORS_KNOWN):
            doors = None
            if kind is DoorEventKind.DOORS_KNOWN:
                doors = {ch: None if state is DoorState.UNKNOWN else state is DoorState.OPEN
                         for ch, state in event.doors}
            self.store.set_doors(cid, doors)
            self.bus.publish(
                ev.ControllerDoorsUnknown(controller_id=cid, detail=event.detail, occurred_at=now)
                if doors is None else
                ev.ControllerDoorsKnown(controller_id=cid, detail=event.detail,
                                        doors=tuple(doors.items()), occurred_at=now))
            return
        if kind in (DoorEventKind.CONTROLLER_OFFLINE, DoorEventKind.CONTROLLER_ONLINE):
            online = kind is DoorEventKind.CONTROLLER_ONLINE
            reach = (ev.ControllerOnline if online else ev.ControllerOffline)(
                controller_id=cid, detail=event.detail, occurred_at=now)
            self.store.set_controller_online(cid, online, controller_message(reach))
            self.bus.publish(reach)
            return
        assert event.channel is not None
        door_type, door_open = _DOOR_EVENTS[kind]
        locker_id, holder = self.store.set_door(cid, event.channel, door_open)
        self.bus.publish(door_type(controller_id=cid, channel=event.channel, locker_id=locker_id,
                                   transaction_id=holder, occurred_at=now))


#: Watcher kind -> (bus event, what ``doorOpen`` becomes).
_DOOR_EVENTS: dict[DoorEventKind, tuple[type[ev.DoorEvent], bool | None]] = {
    DoorEventKind.DOOR_OPENED: (ev.DoorOpened, True),
    DoorEventKind.DOOR_CLOSED: (ev.DoorClosed, False),
    DoorEventKind.DOOR_FORCED_OPEN: (ev.DoorForced, True),
    DoorEventKind.DOOR_STATE_UNKNOWN: (ev.DoorStateUnknown, None),
}


class DuplicateTransaction(Exception):
    """The transaction id exists (open or released): 409 with the existing transaction."""

    def __init__(self, record: TransactionRecord) -> None:
        super().__init__(record.transaction_id)
        self.record = record


def _tx_not_found(transaction_id: str) -> ApiError:
    return ApiError(404, "TRANSACTION_NOT_FOUND", f"No transaction {transaction_id!r}",
                    {"transactionId": transaction_id})


def _locker_not_found(locker_id: int) -> ApiError:
    return ApiError(404, "LOCKER_NOT_FOUND", f"No locker {locker_id}", {"lockerId": locker_id})
