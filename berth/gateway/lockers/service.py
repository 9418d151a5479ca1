"""Lockers: their view (flags and what makes one available), service state, opening them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from berth.contracts.gateway import (
    Locker,
    LockerConfig,
    LockerOperationResponse,
    LockerTypeSummary,
    MultiStatusOperationResponse,
    OpenAllLockersResponse,
    UpdateLockerRequest,
)
from berth.domain.errors import InvalidInput
from berth.gateway import tables as t
from berth.gateway.catalog.service import CatalogService
from berth.gateway.config import GatewayConfig
from berth.gateway.doors.service import DoorService, locker_not_found
from berth.gateway.lockers.repository import LockerRepository


@dataclass
class LockerService:
    config: GatewayConfig
    repository: LockerRepository
    catalog: CatalogService
    doors: DoorService

    def view(self, row: Any) -> Locker:
        """A locker row (with its holding transaction) as the API shows it."""
        site = self.config.site
        lt_id, lt = row.locker_type_id, site.spec.locker_types[row.locker_type_id - 1]
        available = (not row.held and not row.out_of_service and row.operational
                     and row.door_open is not None)
        code = reason = None
        if row.out_of_service:
            code, reason = row.service_reason_code, row.service_reason
        elif not row.operational:
            code, reason = row.fault_code, row.fault_reason
        elif row.held:
            code, reason = "IN_USE", "Held by an open transaction"
        elif row.door_open is None:
            code, reason = "DOOR_STATE_UNKNOWN", "The controller missed a poll; not assigned"
        return Locker(
            locker_id=row.id, bank_id=row.bank_id,
            bank_name=site.spec.banks[row.bank_id - 1].name,
            bank_locker_number=row.bank_locker_number,
            locker_type=LockerTypeSummary(locker_type_id=lt_id, slug=lt.slug, name=lt.name),
            attributes=[a for a in row.attributes.split(",") if a],
            out_of_service=row.out_of_service, operational=row.operational,
            door_open=row.door_open, available=available, reason_code=code, reason=reason,
            transaction_id=row.transaction_id, updated_at=t.as_utc(row.updated_at))

    def list_page(self, *, locker_type: str | None = None, bank_id: int | None = None,
                  available: bool | None = None, out_of_service: bool | None = None,
                  limit: int = 1000, offset: int = 0) -> tuple[list[Locker], int]:
        type_id = None
        if locker_type is not None:
            type_id = self.config.site.type_ids.get(locker_type)
            if type_id is None:
                raise InvalidInput("UNKNOWN_LOCKER_TYPE", f"Unknown locker type {locker_type!r}",
                                   {"known": sorted(self.config.site.type_ids)})
        rows, total = self.repository.list_page(type_id=type_id, bank_id=bank_id,
                                                available=available,
                                                out_of_service=out_of_service, limit=limit,
                                                offset=offset)
        return [self.view(r) for r in rows], total

    def get(self, locker_id: int) -> Locker:
        row = self.repository.get(locker_id)
        if row is None:
            raise locker_not_found(locker_id)
        return self.view(row)

    def locker_config(self, locker_id: int) -> LockerConfig:
        site = self.config.site
        lk = site.lockers_by_id.get(locker_id)
        if lk is None:
            raise locker_not_found(locker_id)
        bank = site.spec.banks[lk.bank_id - 1]
        # the running board's address: a replaced controller's new one (controllers/service.py)
        running = self.doors.controllers.get(lk.controller_id)
        address = getattr(running, "address", bank.controller.address)
        return LockerConfig(
            locker_id=lk.id, bank_id=lk.bank_id, bank_name=bank.name,
            bank_type_key=bank.bank_type, bank_locker_number=lk.bank_locker_number,
            controller_id=lk.controller_id, controller_protocol=bank.controller.protocol,
            controller_address=address, channel=lk.channel,
            locker_type=self.catalog.locker_type(lk.type_id), attributes=list(lk.attributes))

    def update(self, locker_id: int, body: UpdateLockerRequest) -> Locker:
        row = self.repository.set_service(locker_id, body.out_of_service, body.reason_code,
                                          body.reason)
        if row is None:
            raise locker_not_found(locker_id)
        self.doors.flags_changed(row)
        return self.view(row)

    async def open(self, locker_id: int, *, source: str = "maintenance"
                   ) -> LockerOperationResponse:
        """Maintenance: ignores transactions and flags; failures are reported, never raised."""
        return await self.doors.open_locker(locker_id, source=source)

    async def open_all(self) -> OpenAllLockersResponse:
        """Open every locker, unlocks staggered by ``open_all_gap`` to spare the power supply."""
        gap = self.config.open_all_gap

        async def staggered(index: int, locker_id: int) -> LockerOperationResponse:
            await asyncio.sleep(index * gap)
            return await self.doors.open_locker(locker_id, source="open-all")

        results = await asyncio.gather(*(staggered(i, lk.id)
                                         for i, lk in enumerate(self.config.site.lockers)))
        opened = sum(1 for r in results if r.success)
        failed = len(results) - opened
        mixed = opened and failed
        cls = MultiStatusOperationResponse if mixed else OpenAllLockersResponse
        message = (f"Opened {opened} of {len(results)} lockers" if failed
                   else f"Opened all {opened} lockers")
        return cls(success=failed == 0, message=message, total=len(results), opened=opened,
                   failed=failed, results=list(results))
