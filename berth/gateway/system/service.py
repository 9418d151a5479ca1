"""System: health, information, device heartbeats, the log and the gateway's counters."""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime

import ifaddr

from berth import __version__
from berth import events as ev
from berth.contracts.gateway import (
    ControllerCounts,
    DeviceHeartbeatRequest,
    DeviceStatus,
    Health,
    LockController,
    LogEntry,
    NetworkInterface,
    OperationResponse,
    System,
)
from berth.domain.errors import InvalidInput
from berth.gateway import tables as t
from berth.gateway.batcher import GroupCommitter
from berth.gateway.system.repository import SystemRepository
from berth.gateway.system.schemas import (
    BatcherCounters,
    BusCounters,
    Counters,
    LogFilter,
    SubscriptionCounters,
)
from berth.hardware.driver import LockController as Driver
from berth.storage.engine import Database

MAX_DETAILS_BYTES = 4096


@dataclass
class SystemService:
    site_name: str
    db: Database
    repository: SystemRepository
    controllers: dict[str, Driver]
    bus: ev.EventBus
    committer: GroupCommitter
    started_at: datetime
    _started_mono: float = field(default_factory=time.monotonic, init=False)

    @property
    def uptime(self) -> float:
        return time.monotonic() - self._started_mono

    def health(self) -> Health:
        db_ok = self.db.ping()
        online = sum(1 for c in self.controllers.values() if c.online)
        return Health(status="ok" if db_ok else "degraded",
                      database="ok" if db_ok else "unavailable",
                      controllers=ControllerCounts(online=online,
                                                   offline=len(self.controllers) - online),
                      version=__version__, uptime_seconds=round(self.uptime, 3))

    def system(self) -> System:
        network = [NetworkInterface(name=a.nice_name, addresses=[
            ip.ip if isinstance(ip.ip, str) else ip.ip[0] for ip in a.ips])
            for a in ifaddr.get_adapters()]
        devices = [DeviceStatus(
            device_id=r.device_id, device_type=r.device_type, status=r.status,
            version=r.version, details=json.loads(r.details) if r.details else None,
            first_seen=t.as_utc(r.first_seen), last_seen=t.as_utc(r.last_seen),
            heartbeat_count=r.count) for r in self.repository.list_devices()]
        return System(version=__version__, site_name=self.site_name,
                      hostname=socket.gethostname(), started_at=self.started_at,
                      uptime_seconds=round(self.uptime, 3), network=network,
                      devices=devices, controllers=self.list_controllers())

    def list_controllers(self) -> list[LockController]:
        return [LockController(controller_id=r.id, protocol=r.protocol, url=r.url,
                               address=r.address, channels=r.channels,
                               locker_count=r.locker_count, online=r.online,
                               updated_at=t.as_utc(r.updated_at))
                for r in self.repository.list_controllers()]

    def heartbeat(self, body: DeviceHeartbeatRequest) -> OperationResponse:
        if body.details is not None and len(json.dumps(body.details)) > MAX_DETAILS_BYTES:
            raise InvalidInput("VALIDATION_ERROR", "details: at most 4 KB of JSON",
                               [{"field": "details", "message": "too large",
                                 "type": "too_long"}])
        new = self.repository.record_heartbeat(body.device_id, body.device_type, body.status,
                                               body.version, body.details)
        what = "registered" if new else "updated"
        return OperationResponse(success=True, message=f"Device {body.device_id} {what}")

    def logs(self, flt: LogFilter) -> tuple[list[LogEntry], int]:
        rows, total = self.repository.list_logs(flt)
        return [LogEntry(id=r.id, level=r.level, event=r.event, message=r.message,
                         locker_id=r.locker_id, transaction_id=r.transaction_id,
                         timestamp=t.as_utc(r.timestamp),
                         details=json.loads(r.details) if r.details else None)
                for r in rows], total

    def counters(self) -> Counters:
        """The event bus, the group committer and each lock controller, counted since start."""
        subscriptions = [SubscriptionCounters(name=s.name, delivered=s.delivered,
                                              dropped=s.dropped, failures=s.failures)
                         for s in self.bus.subscriptions]
        return Counters(
            bus=BusCounters(published=self.bus.published, unrouted=self.bus.unrouted,
                            dropped=self.bus.dropped, failures=self.bus.failures,
                            subscriptions=subscriptions),
            batcher=BatcherCounters(batches=self.committer.batches, items=self.committer.items),
            controllers={cid: dict(c.counters()) for cid, c in sorted(self.controllers.items())})
