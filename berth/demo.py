"""The delivery guide's "first delivery", step by step, against a running cloud and tower.

Used by ``berth demo`` (with a Rich trace) and by the end-to-end tests. Every step goes through
the public APIs with the SDK, exactly as a partner's back end and a courier's phone would.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from berth.sdk.cloud import CloudClient
from berth.sdk.gateway import GatewayClient

Trace = Callable[[str, str], None]  # (step, detail)


class DeliveryFailed(RuntimeError):
    pass


@dataclass
class DeliveryReport:
    tower_id: str
    locker_id: int
    gateway_locker_id: int = 0
    states: list[str] = field(default_factory=list)


def _quiet(_step: str, _detail: str) -> None:
    return None


def wait_for_state(cloud: CloudClient, tower_id: str, locker_id: int, wanted: str,
                   timeout: float, poll: float = 0.25) -> str:
    """Poll the cloud until the locker shows ``wanted`` (the tower syncs in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        state = cloud.get_locker(tower_id, locker_id).status.name
        if state == wanted or time.monotonic() >= deadline:
            return state
        time.sleep(poll)


def wait_for_code(tower: GatewayClient, token_id: str, timeout: float,
                  poll: float = 0.25) -> bool:
    """Poll the tower's log until the keypad code of ``token_id`` arrived (with the commands
    its cloud sync fetches); typing it before would count as a wrong code."""
    deadline = time.monotonic() + timeout
    while True:
        events = tower.tower_events(0, 500).events
        if any(e["type"] == "keypad_code_set" and e.get("token_id") == token_id
               for e in events):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)


def run_delivery(cloud: CloudClient, tower: GatewayClient, tower_id: str, *,
                 trace: Trace = _quiet, door_timeout: float = 60.0,
                 keypad: bool = False) -> DeliveryReport:
    """Reserve, drop off, pick up; raise DeliveryFailed at the first step that goes wrong.

    With ``keypad`` the recipient has no app: the pick-up token comes with a keypad code and
    the recipient types it at the tower (``POST /tower/keypad``) instead of relaying a token.
    """
    def expect(locker_id: int, wanted: str, report: DeliveryReport) -> None:
        state = wait_for_state(cloud, tower_id, locker_id, wanted, door_timeout)
        report.states.append(state)
        trace("state", f"locker {locker_id} is {state}")
        if state != wanted:
            raise DeliveryFailed(f"locker {locker_id} is {state}, expected {wanted}")

    cloud.get_token()
    trace("access token", "client credentials accepted (scope service_provider, 300 s)")
    lockers = cloud.list_lockers(tower_id)
    free = [lk for lk in lockers if lk.status.id == 1]
    trace("list lockers", f"{len(lockers)} lockers, {len(free)} available")
    if not free:
        raise DeliveryFailed("no available locker in the tower")
    locker = free[0]
    report = DeliveryReport(tower_id, locker.id)

    reservation = cloud.reserve(tower_id, locker.id, duration=300)
    trace("reserve", f"locker {locker.id} ({locker.type.name}) until {reservation.expires_at}")
    expect(locker.id, "reserved", report)
    dropoff = cloud.create_dropoff_token(tower_id, locker.id, duration=3000)
    trace("drop-off token", f"payload {dropoff.payload[:16]}... valid until {dropoff.expires_at}")
    expect(locker.id, "rented", report)

    opened = tower.tower_open(dropoff.payload, dropoff.payload_auth)
    report.gateway_locker_id = opened.gatewayLockerId
    trace("open at the tower", f"{opened.message}: door {opened.gatewayLockerId}")
    if not opened.success:
        raise DeliveryFailed(f"the door did not open: {opened.message}")
    trace("door", "courier puts the parcel in and closes the door")
    expect(locker.id, "occupied", report)

    pickup = cloud.create_pickup_token(tower_id, locker.id, duration=3000, keypad_code=keypad)
    if keypad and pickup.keypad_code:
        code = pickup.keypad_code
        trace("keypad code", f"{code[:2]}{'*' * (len(code) - 2)} sent to the recipient by SMS; "
              f"the tower gets only its salted hash")
        if not wait_for_code(tower, pickup.token_id, door_timeout):
            raise DeliveryFailed("the keypad code never reached the tower")
        trace("tower sync", "the tower fetched the code's hash with its commands")
        opened = tower.tower_keypad(code)
        trace("keypad", f"recipient types the code: {opened.message}")
    else:
        trace("pick-up token",
              f"payload {pickup.payload[:16]}... valid until {pickup.expires_at}")
        opened = tower.tower_open(pickup.payload, pickup.payload_auth)
    trace("open at the tower", f"{opened.message}: door {opened.gatewayLockerId}")
    if not opened.success:
        raise DeliveryFailed(f"the door did not open: {opened.message}")
    trace("door", "recipient takes the parcel and closes the door")
    expect(locker.id, "available", report)
    return report
