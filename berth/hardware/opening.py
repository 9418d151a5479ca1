"""The open rule: how many times to fire a lock, and when a door counts as opened.

Each attempt is bounded by ``attempt_timeout`` (20 s), up to ``attempts`` (3) tries
``retry_gap`` (1 s) apart. Only communication errors are retried; a hardware fault is final.
Before firing again we read the door: a door that did open is a success, not a second unlock.
An opening counts only once the door sensor says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from berth.hardware.driver import CommunicationError, DoorState, HardwareFault, LockController

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class OpenPolicy:
    attempt_timeout: float = 20.0
    attempts: int = 3
    retry_gap: float = 1.0
    confirm_timeout: float = 3.0
    confirm_poll: float = 0.05


@dataclass(frozen=True)
class OpenOutcome:
    success: bool
    door_open: bool
    message: str
    reason_code: str | None = None
    attempts: int = 1


async def open_door(
    controller: LockController,
    channel: int,
    policy: OpenPolicy = OpenPolicy(),
    sleep: Sleep = asyncio.sleep,
) -> OpenOutcome:
    last_error: Exception | None = None
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
        try:
            await asyncio.wait_for(_unlock_and_confirm(controller, channel, policy, sleep),
                                   policy.attempt_timeout)
        except HardwareFault as fault:
            return OpenOutcome(False, False, fault.message, fault.code, attempt)
        except (CommunicationError, TimeoutError) as exc:
            last_error = exc
            continue
        return OpenOutcome(True, True, "Locker opened", None, attempt)
    detail = str(last_error) or type(last_error).__name__
    return OpenOutcome(
        False,
        False,
        f"Controller {controller.controller_id} did not respond after "
        f"{policy.attempts} attempts: {detail}",
        "CONTROLLER_UNREACHABLE",
        policy.attempts,
    )


async def _unlock_and_confirm(
    controller: LockController, channel: int, policy: OpenPolicy, sleep: Sleep
) -> None:
    await controller.unlock(channel)
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
