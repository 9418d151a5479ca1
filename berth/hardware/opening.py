"""The open rule: how many times to fire a lock, and when a door counts as opened.

Each attempt is bounded by ``attempt_timeout`` (20 s), up to ``attempts`` (3) tries
``retry_gap`` (1 s) apart. Only communication errors are retried; a hardware fault is final.
An opening counts only once the door sensor says so.

A lock fires at most once per opening. After an unlock that may have reached the board (any
communication error except ``NotDelivered``) a retry only reads the door: a door seen open is a
success; a door seen shut may have opened and shut again in the meantime (lost replies, a quick
hand), so firing again could open it twice. When no reading settles it, a last status read
reconciles; if the outcome is still unknown the answer is ``door_open=None`` with
``DOOR_STATE_UNKNOWN``, never a plain failure that would let a caller hand the token back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from berth.hardware.driver import (
    CommunicationError,
    DoorState,
    HardwareFault,
    LockController,
    NotDelivered,
)

if TYPE_CHECKING:
    from berth.kit.settings import Settings

Sleep = Callable[[float], Awaitable[None]]
CONTROLLER_UNREACHABLE = "CONTROLLER_UNREACHABLE"
DOOR_STATE_UNKNOWN = "DOOR_STATE_UNKNOWN"


@dataclass(frozen=True)
class OpenPolicy:
    """The rule's numbers; the configurable ones come from ``Settings.hardware`` (no defaults)."""

    attempt_timeout: float
    attempts: int
    retry_gap: float
    confirm_timeout: float = 3.0
    confirm_poll: float = 0.05

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenPolicy:
        hw = settings.hardware
        return cls(hw.open_attempt_timeout, hw.open_attempts, hw.open_retry_gap)


@dataclass(frozen=True)
class OpenOutcome:
    success: bool
    door_open: bool | None  # None: the lock may have fired, no reading says what the door did
    message: str
    reason_code: str | None = None
    attempts: int = 1


@dataclass
class _Fired:
    """Whether an unlock may have reached the board during this opening."""

    maybe: bool = False


async def open_door(
    controller: LockController,
    channel: int,
    policy: OpenPolicy,
    sleep: Sleep = asyncio.sleep,
) -> OpenOutcome:
    fired = _Fired()
    last_error: Exception | None = None
    attempt = 0
    for attempt in range(1, policy.attempts + 1):
        if attempt > 1:
            await sleep(policy.retry_gap)
            try:
                state = await asyncio.wait_for(controller.read_door(channel),
                                               policy.attempt_timeout)
            except (CommunicationError, TimeoutError) as exc:
                last_error = exc
                continue
            if state is DoorState.OPEN:
                return OpenOutcome(True, True, "Locker opened", None, attempt)
            if fired.maybe:
                break  # shut now, but it may have opened meanwhile: never fire twice
        try:
            await asyncio.wait_for(_unlock_and_confirm(controller, channel, policy, sleep, fired),
                                   policy.attempt_timeout)
        except HardwareFault as fault:
            return OpenOutcome(False, False, fault.message, fault.code, attempt)
        except (CommunicationError, TimeoutError) as exc:
            last_error = exc
            continue
        return OpenOutcome(True, True, "Locker opened", None, attempt)
    detail = str(last_error) or type(last_error).__name__
    if fired.maybe:
        return await _reconcile(controller, channel, policy, sleep, attempt, detail)
    return OpenOutcome(
        False,
        False,
        f"Controller {controller.controller_id} did not respond after "
        f"{policy.attempts} attempts: {detail}",
        CONTROLLER_UNREACHABLE,
        policy.attempts,
    )


async def _unlock_and_confirm(
    controller: LockController, channel: int, policy: OpenPolicy, sleep: Sleep, fired: _Fired
) -> None:
    before, fired.maybe = fired.maybe, True  # a cancelled or unanswered unlock may have fired
    try:
        await controller.unlock(channel)
    except NotDelivered:
        fired.maybe = before
        raise
    loop = asyncio.get_running_loop()
    deadline = loop.time() + policy.confirm_timeout
    while True:
        if await controller.read_door(channel) is DoorState.OPEN:
            return
        if loop.time() >= deadline:
            raise HardwareFault(
                "DOOR_DID_NOT_OPEN",
                f"Unlock accepted on {controller.controller_id} channel {channel} "
                "but the door never reported open",
            )
        await sleep(policy.confirm_poll)


async def _reconcile(controller: LockController, channel: int, policy: OpenPolicy,
                     sleep: Sleep, attempts: int, detail: str) -> OpenOutcome:
    """The lock may have fired: read the door for one confirm window before saying 'unknown'."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + policy.confirm_timeout
    while True:
        try:
            state = await asyncio.wait_for(controller.read_door(channel), policy.attempt_timeout)
        except (CommunicationError, TimeoutError) as exc:
            detail = str(exc) or type(exc).__name__
        else:
            if state is DoorState.OPEN:
                return OpenOutcome(True, True, "Locker opened", None, attempts)
            detail = "the door reads shut, but it may have opened and shut since the unlock"
        if loop.time() >= deadline:
            return OpenOutcome(
                False, None,
                f"An unlock may have fired on {controller.controller_id} channel {channel} "
                f"and no reading confirmed the door opened ({detail}); it is not fired again",
                DOOR_STATE_UNKNOWN, attempts)
        await sleep(policy.confirm_poll)
