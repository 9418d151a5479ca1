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
    wait: float  # seconds the cloud may hold a command poll; 0: a plain poll every interval

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> SyncConfig:
        tower = settings.tower
        values: dict[str, Any] = dict(interval=tower.sync_interval, batch=tower.sync_batch,
                                      max_backoff=tower.sync_max_backoff, wait=tower.sync_wait)
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
        self.wait = config.wait
        self._sleep = sleep
        self._pushing = asyncio.Lock()  # the push and pull loops never push the same events
        self.publish = publish or (lambda _event: None)
        self.online = False

    async def push(self) -> int:
        async with self._pushing:
            return await self._push()

    async def _push(self) -> int:
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

    async def pull(self, wait: float = 0) -> int:
        return (await self._pull(wait))[0]

    async def _pull(self, wait: float) -> tuple[int, bool]:
        """Apply the pending commands; also whether the cloud held the call (a long-poll)."""
        answer = await self.cloud.get_commands(self.tower.identity.tower_id, wait=wait)
        applied = 0
        for command in answer.commands:
            if not (command.payload and command.payload_auth):
                continue
            result = await run_blocking(
                self.tower.apply_command, command.id, command.payload, command.payload_auth,
                command.kind)
            applied += result.outcome == "applied"
        return applied, answer.waited

    async def sync_once(self) -> SyncReport:
        """Push what is pending, apply new commands, push what applying them logged."""
        pushed = await self.push()
        applied = await self.pull()
        if applied:
            pushed += await self.push()
        self.publish(ev.TowerSynced(tower_id=self.tower.identity.tower_id, pushed=pushed,
                                    applied=applied, occurred_at=self.tower.clock()))
        return SyncReport(pushed, applied)

    async def long_poll_once(self) -> bool:
        """One command long-poll (and the push of what applying commands logged); whether the
        cloud held it, so the next may follow at once (an older cloud answers at once)."""
        applied, waited = await self._pull(self.wait)
        pushed = await self.push() if applied else 0
        if applied:
            self.publish(ev.TowerSynced(tower_id=self.tower.identity.tower_id, pushed=pushed,
                                        applied=applied, occurred_at=self.tower.clock()))
        return waited

    async def run(self) -> None:
        """Sync forever; while the cloud is unreachable, back off and keep the events queued.

        With ``wait`` > 0 commands come by long-poll (held by the cloud until there is one),
        beside a round every ``interval`` that pushes events (a request only when there are
        some): an idle tower then costs the cloud about one request per ``wait`` seconds
        instead of one per ``interval``, and a command reaches it as soon as it is queued."""
        if self.wait <= 0:
            await self._forever(self.sync_once)
            return
        await asyncio.gather(self._forever(self.push_round), self._forever(self.long_poll_once))

    async def push_round(self) -> None:
        pushed = await self.push()
        self.publish(ev.TowerSynced(tower_id=self.tower.identity.tower_id, pushed=pushed,
                                    applied=0, occurred_at=self.tower.clock()))

    async def _forever(self, step: Callable[[], Awaitable[object]]) -> None:
        failures = 0
        while True:
            try:
                held = await step()
            except (httpx.TransportError, BerthApiError, LinkUnavailable) as exc:
                failures += 1
                if self.online or failures == 1:
                    log.warning("cloud sync failed, events stay queued: %s", exc)
                self.online = False
                await self._sleep(min(self.interval * 2 ** min(failures, 10), self.max_backoff))
                continue
            failures = 0
            self.online = True
            if held is not True:  # a long-poll the cloud held may follow at once
                await self._sleep(self.interval)
