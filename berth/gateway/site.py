"""The site: locker types, bank types, banks with their lock controllers, and the lockers.

A site is described in YAML (``--site FILE``) or taken from the built-in demo site
(``demo_site.yaml``). Ids are assigned in file order (locker types, bank types and banks from 1;
lockers from 1 across banks in bank order, then bank locker number), so the same file always yields
the same ids in every process that shares a database.

A bank type's association maps a bank locker number to a locker type slug, or to a mapping
``{type: slug, attributes: [low], channel: n}``; the channel defaults to the bank locker number.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from berth.domain.matching import MAX_DIMENSION_INCHES, LockerTypeSpec
from berth.hardware import registry
from berth.hardware.factory import ControllerSpec
from berth.tower.identity import GatewayLocker

DEMO_SITE = Path(__file__).with_name("demo_site.yaml")

_Slug = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")
_Inches = Field(gt=0, le=MAX_DIMENSION_INCHES)


class SiteError(ValueError):
    """The site file is unreadable or inconsistent; the message says where."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LockerTypeDef(_Strict):
    slug: str = _Slug
    name: str = Field(min_length=1, max_length=128)
    width: float = _Inches
    height: float = _Inches
    depth: float = _Inches


class SlotDef(_Strict):
    type: str = _Slug
    attributes: tuple[str, ...] = ()
    channel: int | None = Field(None, ge=1, le=256)


class BankTypeDef(_Strict):
    key: str = _Slug
    friendly_name: str = Field(min_length=1, max_length=128)
    description: str | None = None
    is_debug: bool = False
    associations: dict[int, SlotDef]

    @field_validator("associations", mode="before")
    @classmethod
    def _expand(cls, value: object) -> object:
        if isinstance(value, dict):
            return {k: {"type": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("associations")
    @classmethod
    def _numbers(cls, value: dict[int, SlotDef]) -> dict[int, SlotDef]:
        if not value:
            raise ValueError("a bank type needs at least one association")
        if min(value) < 1:
            raise ValueError("bank locker numbers start at 1")
        return dict(sorted(value.items()))


class ControllerDef(_Strict):
    id: str = _Slug
    protocol: str = "simulated"
    url: str | None = None
    address: int = Field(0, ge=0, le=255)
    channels: int = Field(16, ge=1, le=256)
    open_is_high: bool = True
    close_after: float | None = Field(5.0, ge=0)

    @field_validator("protocol")
    @classmethod
    def _registered(cls, value: str) -> str:
        """Refuse a protocol no board registered, when the file is checked, not at first use."""
        if value not in registry.known():
            raise ValueError(str(registry.UnknownProtocol(value)))
        return value

    def spec(self) -> ControllerSpec:
        return ControllerSpec(self.id, self.protocol, self.url, self.address, self.channels,
                              self.open_is_high, self.close_after)


class BankDef(_Strict):
    name: str = Field(min_length=1, max_length=64)
    bank_type: str = _Slug
    controller: ControllerDef


class SiteFile(_Strict):
    name: str = "Berth site"
    attributes: tuple[str, ...] = Field((), max_length=30)
    locker_types: tuple[LockerTypeDef, ...] = Field(min_length=1)
    bank_types: tuple[BankTypeDef, ...] = Field(min_length=1)
    banks: tuple[BankDef, ...] = Field(min_length=1)


@dataclass(frozen=True)
class LockerDef:
    """One physical locker, derived from its bank's type."""

    id: int
    bank_id: int
    bank_locker_number: int
    type_id: int
    controller_id: str
    channel: int
    attributes: tuple[str, ...]
    attr_mask: int


class Site:
    """A validated site with ids assigned; static for the life of the process."""

    def __init__(self, spec: SiteFile) -> None:
        self.spec = spec
        self.name = spec.name
        self.attribute_bits = {name: 1 << i for i, name in enumerate(spec.attributes)}
        self.type_ids = {t.slug: i for i, t in enumerate(spec.locker_types, 1)}
        self.bank_type_ids = {b.key: i for i, b in enumerate(spec.bank_types, 1)}
        self._check()
        self.lockers = self._derive_lockers()

    @property
    def locker_types(self) -> list[tuple[int, LockerTypeDef]]:
        return list(enumerate(self.spec.locker_types, 1))

    @property
    def bank_types(self) -> list[tuple[int, BankTypeDef]]:
        return list(enumerate(self.spec.bank_types, 1))

    @property
    def banks(self) -> list[tuple[int, BankDef]]:
        return list(enumerate(self.spec.banks, 1))

    @cached_property
    def type_specs(self) -> list[LockerTypeSpec]:
        return [LockerTypeSpec(i, t.slug, t.width, t.height, t.depth)
                for i, t in self.locker_types]

    @cached_property
    def controllers(self) -> list[ControllerSpec]:
        return [bank.controller.spec() for _, bank in self.banks]

    @cached_property
    def lockers_by_id(self) -> dict[int, LockerDef]:
        return {locker.id: locker for locker in self.lockers}

    def _check(self) -> None:
        problems: list[str] = []
        _unique(problems, "locker type slug", [t.slug for t in self.spec.locker_types])
        _unique(problems, "bank type key", [b.key for b in self.spec.bank_types])
        _unique(problems, "attribute", list(self.spec.attributes))
        _unique(problems, "controller id", [b.controller.id for b in self.spec.banks])
        _unique(problems, "bank name", [b.name for b in self.spec.banks])
        for bt in self.spec.bank_types:
            for number, slot in bt.associations.items():
                where = f"bank type {bt.key!r} locker {number}"
                if slot.type not in self.type_ids:
                    problems.append(f"{where}: unknown locker type {slot.type!r}")
                problems += [f"{where}: unknown attribute {a!r}" for a in slot.attributes
                             if a not in self.attribute_bits]
        for bank in self.spec.banks:
            bt = next((b for b in self.spec.bank_types if b.key == bank.bank_type), None)
            if bt is None:
                problems.append(f"bank {bank.name!r}: unknown bank type {bank.bank_type!r}")
                continue
            channels = [s.channel or n for n, s in bt.associations.items()]
            _unique(problems, f"channel of bank {bank.name!r}", channels)
            over = [c for c in channels if c > bank.controller.channels]
            if over:
                problems.append(f"bank {bank.name!r}: channels {over} exceed controller "
                                f"{bank.controller.id!r}'s {bank.controller.channels} channels")
        if problems:
            raise SiteError("invalid site: " + "; ".join(problems))

    def _derive_lockers(self) -> list[LockerDef]:
        by_key = {b.key: b for b in self.spec.bank_types}
        lockers: list[LockerDef] = []
        for bank_id, bank in self.banks:
            for number, slot in by_key[bank.bank_type].associations.items():
                mask = sum(self.attribute_bits[a] for a in set(slot.attributes))
                lockers.append(LockerDef(len(lockers) + 1, bank_id, number,
                                         self.type_ids[slot.type], bank.controller.id,
                                         slot.channel or number, tuple(slot.attributes), mask))
        return lockers


def _unique(problems: list[str], what: str, values: list) -> None:
    seen: set = set()
    for value in values:
        if value in seen:
            problems.append(f"duplicate {what} {value!r}")
        seen.add(value)


def parse_site(data: object, source: str = "site") -> Site:
    try:
        return Site(SiteFile.model_validate(data))
    except ValidationError as exc:
        lines = [f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in exc.errors()]
        raise SiteError(f"{source}: " + "; ".join(lines)) from None
    except SiteError as exc:
        raise SiteError(f"{source}: {exc}") from None


def load_site(path: Path | None = None) -> Site:
    """Load and validate a site YAML file; the built-in demo site when ``path`` is None."""
    path = path or DEMO_SITE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SiteError(f"{path}: cannot read site file ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise SiteError(f"{path}: not valid YAML ({exc})") from None
    return parse_site(data, str(path))


def site_lockers(site: Site) -> list[GatewayLocker]:
    """A gateway site's lockers as tower provisioning sees them (no running gateway needed)."""
    types = dict(site.locker_types)
    return [GatewayLocker(lk.id, types[lk.type_id].slug, lk.attributes,
                          (types[lk.type_id].width, types[lk.type_id].height,
                           types[lk.type_id].depth))
            for lk in site.lockers]
