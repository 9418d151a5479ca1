"""Locker types and bank types: the site file's catalog, with counts and creation times."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from berth.contracts.gateway import (
    BankType,
    BankTypeAssociation,
    BankTypeWithAssociations,
    LockerType,
)
from berth.domain.errors import NotFound
from berth.gateway import tables as t
from berth.gateway.catalog.repository import CatalogRepository
from berth.gateway.site import Site
from berth.kit.clock import Clock


@dataclass
class CatalogService:
    """Counts and creation times are cached: the site does not change while running."""

    site: Site
    repository: CatalogRepository
    clock: Clock
    _per_type: dict[int, int] | None = field(default=None, init=False)
    _created: dict[tuple[str, int], datetime] = field(default_factory=dict, init=False)

    def locker_type(self, type_id: int) -> LockerType:
        if not 1 <= type_id <= len(self.site.spec.locker_types):
            raise NotFound("LOCKER_TYPE_NOT_FOUND", f"No locker type {type_id}",
                           {"lockerTypeId": type_id})
        lt = self.site.spec.locker_types[type_id - 1]
        if self._per_type is None:
            self._per_type = self.repository.lockers_per_type()
        return LockerType(locker_type_id=type_id, slug=lt.slug, name=lt.name,
                          width_inches=lt.width, height_inches=lt.height,
                          depth_inches=lt.depth, locker_count=self._per_type.get(type_id, 0),
                          created_at=self._created_at(t.locker_types, type_id))

    def locker_types(self) -> list[LockerType]:
        return [self.locker_type(i) for i, _ in self.site.locker_types]

    def bank_type(self, bank_type_id: int) -> BankTypeWithAssociations:
        if not 1 <= bank_type_id <= len(self.site.spec.bank_types):
            raise NotFound("BANK_TYPE_NOT_FOUND", f"No bank type {bank_type_id}",
                           {"bankTypeId": bank_type_id})
        bt = self.site.spec.bank_types[bank_type_id - 1]
        banks = sum(1 for _, bank in self.site.banks if bank.bank_type == bt.key)
        associations = [BankTypeAssociation(
            bank_locker_number=n, locker_type=self.locker_type(self.site.type_ids[slot.type]))
            for n, slot in bt.associations.items()]
        return BankTypeWithAssociations(
            bank_type_id=bank_type_id, key=bt.key, friendly_name=bt.friendly_name,
            description=bt.description, is_debug=bt.is_debug,
            locker_count=banks * len(bt.associations),
            created_at=self._created_at(t.bank_types, bank_type_id), associations=associations)

    def bank_types(self) -> list[BankType]:
        return [BankType.model_validate(self.bank_type(i).model_dump(exclude={"associations"}))
                for i, _ in self.site.bank_types]

    def _created_at(self, table: Any, row_id: int) -> datetime:
        key = (table.name, row_id)
        if key not in self._created:
            self._created[key] = self.repository.created_at(table, row_id) or self.clock()
        return self._created[key]
