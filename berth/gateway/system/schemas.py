"""The system domain's shapes: the log filter, and the counters body (a Berth extension)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from berth.contracts.gateway import CamelModel


@dataclass(frozen=True)
class LogFilter:
    level: str | None = None
    locker_id: int | None = None
    transaction_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    offset: int = 0


class SubscriptionCounters(CamelModel):
    """One event-bus subscriber: events it handled, lost to a full queue, or failed on."""

    name: str
    delivered: int
    dropped: int
    failures: int


class BusCounters(CamelModel):
    """Totals of the bus: ``unrouted`` were published while it was not running (nobody heard
    them); ``dropped`` and ``failures`` add up every subscriber, also those since gone."""

    published: int
    unrouted: int
    dropped: int
    failures: int
    subscriptions: list[SubscriptionCounters]


class BatcherCounters(CamelModel):
    """Group commit: write transactions run and create requests they carried."""

    batches: int
    items: int


class Counters(CamelModel):
    """What moves inside the gateway, since it started (``GET /system/counters``)."""

    bus: BusCounters
    batcher: BatcherCounters
    controllers: dict[str, dict[str, int]]
