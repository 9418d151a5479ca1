"""The running gateway: builds each domain's service over its repository and runs the parts
that live as long as the process (event bus, lock controllers, door watcher, group committer).

Routers reach their domain's service through ``app.state.service.<domain>``; the tower reaches
the gateway through the shapes of ``berth/tower/ports.py``, which this class satisfies.
"""

from __future__ import annotations

from pathlib import Path

from berth import events as ev
from berth.contracts.gateway import LockerOperationResponse
from berth.gateway.audit import AuditLog
from berth.gateway.batcher import GroupCommitter
from berth.gateway.catalog.repository import CatalogRepository
from berth.gateway.catalog.service import CatalogService
from berth.gateway.config import GatewayConfig
from berth.gateway.doors.repository import DoorRepository
from berth.gateway.doors.service import DoorService
from berth.gateway.fleet.repository import FleetRequestRepository
from berth.gateway.fleet.service import FleetRequestService
from berth.gateway.lockers.repository import LockerRepository
from berth.gateway.lockers.service import LockerService
from berth.gateway.system.repository import SystemRepository
from berth.gateway.system.service import SystemService
from berth.gateway.transactions.repository import TransactionRepository
from berth.gateway.transactions.schemas import CreateCommand, CreateOutcome, TransactionRecord
from berth.gateway.transactions.service import TransactionService
from berth.hardware.driver import LockController
from berth.hardware.factory import build_controller
from berth.hardware.watcher import DoorEvent, DoorWatcher
from berth.kit.threads import run_blocking
from berth.storage import migrate
from berth.storage.engine import Database

MIGRATIONS = Path(__file__).with_name("migrations")


class GatewayService:
    """``bus`` carries what happens here to whoever listens (audit log, tower, tests); the
    service starts and stops it, after its producers stop and before the database closes."""

    def __init__(self, config: GatewayConfig, bus: ev.EventBus | None = None) -> None:
        self.config = config
        self.site = config.site
        self.clock = config.clock
        self.db = Database(config.db_url)
        self.bus = bus or ev.EventBus()
        self.controllers: dict[str, LockController] = config.controllers or {
            spec.controller_id: build_controller(spec) for spec in self.site.controllers}
        self.watcher = DoorWatcher(self.controllers.values(), self._on_door_event,
                                   interval=config.door_poll_interval)
        repo_tx = TransactionRepository(self.db, self.clock)
        repo_lockers = LockerRepository(self.db, self.clock)
        self.catalog_repository = CatalogRepository(self.db, self.site, self.clock)
        self.log = SystemRepository(self.db, self.clock)
        self.committer: GroupCommitter[CreateCommand, CreateOutcome] = GroupCommitter(
            repo_tx.create_batch, config.max_batch)
        AuditLog(self.log, self.bus)  # subscribes itself: the bus keeps it
        self.doors = DoorService(config, DoorRepository(self.db, self.clock), repo_lockers,
                                 self.controllers, self.bus, self.watcher.note_unlock,
                                 self.watcher.note_opened)
        self.transactions = TransactionService(self.site, repo_tx, self.committer, self.doors,
                                               self.bus)
        self.catalog = CatalogService(self.site, self.catalog_repository, self.clock)
        self.lockers = LockerService(config, repo_lockers, self.catalog, self.doors)
        self.fleet_requests = FleetRequestService(FleetRequestRepository(self.db, self.clock))
        self.system = SystemService(self.site.name, self.db, self.log, self.controllers,
                                    self.bus, self.committer, self.clock())

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        await self.bus.start()
        await run_blocking(migrate.upgrade, self.db, MIGRATIONS)
        await run_blocking(self.catalog_repository.sync_site)
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

    async def _on_door_event(self, event: DoorEvent) -> None:
        await self.doors.on_door_event(event)

    # --- what the tower uses (berth/tower/ports.py) -----------------------------------------

    def hold_locker(self, locker_id: int, transaction_id: str, holder: str) -> bool:
        return self.transactions.hold_locker(locker_id, transaction_id, holder)

    def release(self, transaction_id: str) -> TransactionRecord | None:
        return self.transactions.release(transaction_id)

    async def open_locker(self, locker_id: int, *, source: str = "maintenance"
                          ) -> LockerOperationResponse:
        return await self.doors.open_locker(locker_id, source=source)
