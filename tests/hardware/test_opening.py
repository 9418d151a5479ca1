from __future__ import annotations

import asyncio

import pytest

from berth.hardware.driver import CommunicationError, DoorState, HardwareFault, NotDelivered
from berth.hardware.opening import OpenPolicy, open_door
from berth.hardware.simulated import SimulatedController

FAST = OpenPolicy(attempt_timeout=0.5, attempts=3, retry_gap=0.01, confirm_timeout=0.1,
                  confirm_poll=0.01)


class Flaky(SimulatedController):
    """Fails the first ``failures`` unlocks with a communication error (after firing or not).

    ``delivered=False`` says the unlock never left (line down), so a retry may fire again.
    """

    def __init__(self, failures: int, fire_anyway: bool = False, delivered: bool = True) -> None:
        super().__init__("c1", 4, close_after=None)
        self.failures = failures
        self.fire_anyway = fire_anyway
        self.delivered = delivered

    async def unlock(self, channel: int) -> None:
        if self.failures:
            self.failures -= 1
            if not self.delivered:
                raise NotDelivered("line down")
            if self.fire_anyway:
                await super().unlock(channel)
            raise CommunicationError("reply lost")
        await super().unlock(channel)


class Faulty(SimulatedController):
    async def unlock(self, channel: int) -> None:
        self.unlocks.append(channel)
        raise HardwareFault("LOCK_FAULT", "solenoid open circuit")


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_opens_and_confirms_with_sensor() -> None:
    ctl = SimulatedController("c1", 4, close_after=None)
    out = run(open_door(ctl, 2, FAST))
    assert out.success and out.door_open and out.attempts == 1
    assert ctl.doors[2] is DoorState.OPEN


def test_retries_unlocks_that_never_left() -> None:
    ctl = Flaky(failures=2, delivered=False)
    out = run(open_door(ctl, 1, FAST))
    assert out.success and out.attempts == 3
    assert ctl.unlocks == [1]


def test_gives_up_after_three_attempts() -> None:
    ctl = Flaky(failures=5, delivered=False)
    out = run(open_door(ctl, 1, FAST))
    assert not out.success and out.reason_code == "CONTROLLER_UNREACHABLE"
    assert out.attempts == 3


def test_reads_before_refiring_a_door_that_did_open() -> None:
    ctl = Flaky(failures=1, fire_anyway=True)
    out = run(open_door(ctl, 3, FAST))
    assert out.success and out.attempts == 2
    assert ctl.unlocks == [3]  # fired once only


def test_jammed_door_is_a_fault_not_retried() -> None:
    ctl = SimulatedController("c1", 4, close_after=None)
    ctl.jammed.add(1)
    out = run(open_door(ctl, 1, FAST))
    assert not out.success and out.reason_code == "DOOR_DID_NOT_OPEN"
    assert ctl.unlocks == [1]


def test_hardware_fault_is_not_retried() -> None:
    ctl = Faulty("c1", 4)
    out = run(open_door(ctl, 1, FAST))
    assert not out.success and out.reason_code == "LOCK_FAULT"
    assert ctl.unlocks == [1]


def test_attempt_timeout_counts_as_communication_error() -> None:
    class Hanging(SimulatedController):
        async def unlock(self, channel: int) -> None:
            await asyncio.sleep(10)

    ctl = Hanging("c1", 2)
    out = run(open_door(ctl, 1, OpenPolicy(attempt_timeout=0.05, attempts=2, retry_gap=0.0,
                                           confirm_timeout=0.05, confirm_poll=0.01)))
    # the hanging unlock may have fired: the door reads shut, so the outcome is unknown
    assert not out.success and out.reason_code == "DOOR_STATE_UNKNOWN" and out.door_open is None


def test_lost_reply_is_not_fired_again_when_the_door_reads_shut() -> None:
    class QuickHand(Flaky):
        """The unlock fires, its reply is lost, and the door is shut again at once."""

        async def unlock(self, channel: int) -> None:
            try:
                await super().unlock(channel)
            finally:
                self.close_door(channel)

    ctl = QuickHand(failures=1, fire_anyway=True)
    out = run(open_door(ctl, 2, FAST))
    assert ctl.unlocks == [2]
    assert not out.success and out.door_open is None and out.reason_code == "DOOR_STATE_UNKNOWN"


def test_door_seen_open_only_by_the_final_reading_is_a_success() -> None:
    class LateEyes(Flaky):
        """The unlock fires with its reply lost; every reading fails until the last one."""

        def __init__(self) -> None:
            super().__init__(failures=1, fire_anyway=True)
            self.blind_reads = FAST.attempts - 1

        async def read_doors(self) -> dict[int, DoorState]:
            if self.blind_reads:
                self.blind_reads -= 1
                raise CommunicationError("reply corrupt")
            return await super().read_doors()

    ctl = LateEyes()
    out = run(open_door(ctl, 3, FAST))
    assert out.success and out.door_open is True and ctl.unlocks == [3]


@pytest.mark.parametrize("channel", [0, 5])
def test_unknown_channel_is_reported(channel: int) -> None:
    out = run(open_door(SimulatedController("c1", 4), channel, FAST))
    assert not out.success
