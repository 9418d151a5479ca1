"""The gateway's own link to the cloud: push signed events, pull commands, survive being offline.

Events wait in the tower's event log (on disk, in the gateway database) until the cloud has
acknowledged them; the cursor ``pushed_seq`` only moves after an acknowledgement, and the cloud
applies each (tower, seq) once, so a push repeated after a lost answer changes nothing:
exactly once in effect, in order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from berth import events as ev
from berth.kit.settings import Settings
from berth.kit.threads import run_blocking
from berth.sdk.errors import BerthApiError
from berth.tower.service import TowerService
from berth.tower.transport import CloudTransport, LinkUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncReport:
    pushed: int
    applied: int


@dataclass(frozen=True)
class SyncConfig:
    """How often a tower syncs and how it backs off; from ``Settings.tower`` (no defaults)."""

    interval: float  # seconds between rounds while the cloud answers
    batch: int  # events pushed per request
    max_backoff: float  # longest wait between rounds while the cloud does not answer

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> SyncConfig:
        tower = settings.tower
        values: dict[str, Any] = dict(interval=tower.sync_interval, batch=tower.sync_batch,
                                      max_backoff=tower.sync_max_backoff)
        return cls(**(values | overrides))


class CloudSync:
    """``cloud`` is the way to the cloud (``transport.py``: over the broker, over HTTP)."""

    def __init__(self, tower: TowerService, cloud: CloudTransport, config: SyncConfig, *,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 publish: Callable[[ev.Event], None] | None = None) -> None:
        self.tower = tower
        self.cloud = cloud
        self.interval = config.interval
        self.batch = config.batch
        self.max_backoff = config.max_backoff
        self._sleep = sleep
        self.publish = publish or (lambda _event: None)
        self.online = False

    async def push(self) -> int:
        tower_id = self.tower.identity.tower_id
        pushed = 0
        await run_blocking(self.tower.flush_refusals)
        while True:
            after = await run_blocking(self.tower.pushed_seq)
            events = await run_blocking(self.tower.events_after, after, self.batch)
            if not events:
                return pushed
            await self.cloud.push_events(tower_id, events)
            await run_blocking(self.tower.mark_pushed, events[-1]["seq"])
            pushed += len(events)

    async def pull(self) -> int:
        answer = await self.cloud.get_commands(self.tower.identity.tower_id)
        applied = 0
        for command in answer.commands:
            if not (command.payload and command.payload_auth):
                continue
            result = await run_blocking(
                self.tower.apply_command, command.id, command.payload, command.payload_auth,
                command.kind)
            applied += result.outcome == "applied"
        return applied

    async def sync_once(self) -> SyncReport:
        """Push what is pending, apply new commands, push what applying them logged."""
        pushed = await self.push()
        applied = await self.pull()
        if applied:
            pushed += await self.push()
        self.publish(ev.TowerSynced(tower_id=self.tower.identity.tower_id, pushed=pushed,
                                    applied=applied, occurred_at=self.tower.clock()))
        return SyncReport(pushed, applied)

    async def run(self) -> None:
        """Sync forever; while the cloud is unreachable, back off and keep the events queued."""
        failures = 0
        while True:
            try:
                await self.sync_once()
            except (httpx.TransportError, BerthApiError, LinkUnavailable) as exc:
                failures += 1
                if self.online or failures == 1:
                    log.warning("cloud sync failed, events stay queued: %s", exc)
                self.online = False
                await self._sleep(min(self.interval * 2 ** min(failures, 10), self.max_backoff))
                continue
            failures = 0
            self.online = True
            await self._sleep(self.interval)
