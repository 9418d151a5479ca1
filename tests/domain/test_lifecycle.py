"""The locker state machine, arrow by arrow and refusal by refusal."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from berth.domain.lifecycle import (
    TRANSITIONS,
    Action,
    LockerState,
    TransitionRefused,
    due_expiry,
    effective_state,
    next_state,
)

S, A = LockerState, Action

# The guide's diagram, written out independently of the module's table.
ARROWS = [
    (S.AVAILABLE, A.CREATE_RESERVATION, S.RESERVED),
    (S.RESERVED, A.CANCEL_RESERVATION, S.AVAILABLE),
    (S.RESERVED, A.RESERVATION_EXPIRED, S.AVAILABLE),
    (S.AVAILABLE, A.CREATE_DROPOFF_TOKEN, S.RENTED),
    (S.RESERVED, A.CREATE_DROPOFF_TOKEN, S.RENTED),
    (S.RENTED, A.CREATE_DROPOFF_TOKEN, S.RENTED),
    (S.OCCUPIED, A.CREATE_DROPOFF_TOKEN, S.OCCUPIED),
    (S.OCCUPIED, A.CREATE_PICKUP_TOKEN, S.OCCUPIED),
    (S.RENTED, A.RELEASE_LOCKER, S.DECLINED),
    (S.RENTED, A.DROPOFF_TOKEN_USED, S.OCCUPIED),
    (S.DECLINED, A.DROPOFF_TOKEN_USED, S.OCCUPIED),
    (S.RENTED, A.DROPOFF_TOKEN_EXPIRED, S.AVAILABLE),
    (S.OCCUPIED, A.PICKUP_TOKEN_USED, S.AVAILABLE),
    (S.DECLINED, A.RELEASE_TOKEN_SET, S.AVAILABLE),
    (S.AVAILABLE, A.SET_OUT_OF_SERVICE, S.OUT_OF_SERVICE),
    (S.OUT_OF_SERVICE, A.CLEAR_OUT_OF_SERVICE, S.AVAILABLE),
]
ALLOWED = {(s, a) for s, a, _ in ARROWS}
REFUSED = [p for p in itertools.product(S, A) if p not in ALLOWED]


def test_table_is_exactly_the_diagram() -> None:
    assert {(s, a): t for s, a, t in ARROWS} == TRANSITIONS


@pytest.mark.parametrize(("state", "action", "target"), ARROWS)
def test_arrow(state: LockerState, action: Action, target: LockerState) -> None:
    assert next_state(state, action, requester=7, holder=7).state is target


@pytest.mark.parametrize(("state", "action"), REFUSED)
def test_refusal_names_state_and_action(state: LockerState, action: Action) -> None:
    with pytest.raises(TransitionRefused) as info:
        next_state(state, action, requester=7, holder=7)
    assert info.value.code == f"LOCKER_{state.name}_CANNOT_{action.name}"


def test_public_example_code() -> None:
    with pytest.raises(TransitionRefused) as info:
        next_state(S.OCCUPIED, A.CREATE_RESERVATION)
    assert info.value.code == "LOCKER_OCCUPIED_CANNOT_CREATE_RESERVATION"


@pytest.mark.parametrize(
    ("state", "action"),
    [
        (S.RESERVED, A.CREATE_DROPOFF_TOKEN),
        (S.RESERVED, A.CANCEL_RESERVATION),
        (S.RENTED, A.CREATE_DROPOFF_TOKEN),
        (S.RENTED, A.RELEASE_LOCKER),
        (S.OCCUPIED, A.CREATE_PICKUP_TOKEN),
        (S.OCCUPIED, A.CREATE_DROPOFF_TOKEN),
    ],
)
def test_held_locker_refuses_other_partners(state: LockerState, action: Action) -> None:
    with pytest.raises(TransitionRefused) as info:
        next_state(state, action, requester=2, holder=1)
    assert info.value.guard
    assert info.value.code == f"LOCKER_{state.name}_FOR_ANOTHER_CANNOT_{action.name}"


def test_tower_events_ignore_holder() -> None:
    assert next_state(S.RENTED, A.DROPOFF_TOKEN_USED, holder=1).state is S.OCCUPIED


@pytest.mark.parametrize(
    ("action", "bumps"),
    [(A.PICKUP_TOKEN_USED, True), (A.RELEASE_TOKEN_SET, True), (A.DROPOFF_TOKEN_USED, False)],
)
def test_generation_bumps_only_on_pickup_and_release(action: Action, bumps: bool) -> None:
    state = S.OCCUPIED if action is A.PICKUP_TOKEN_USED else S.DECLINED
    assert next_state(state, action).bump_generation is bumps


def test_back_to_available_drops_the_holder() -> None:
    assert next_state(S.OCCUPIED, A.PICKUP_TOKEN_USED).release_holder
    assert not next_state(S.AVAILABLE, A.CREATE_RESERVATION).release_holder


def test_expiry_is_due_only_after_the_deadline() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    later, earlier = now + timedelta(seconds=1), now - timedelta(seconds=1)
    assert due_expiry(S.RESERVED, later, now) is None
    assert due_expiry(S.RESERVED, earlier, now) is A.RESERVATION_EXPIRED
    assert due_expiry(S.RESERVED, now, now) is A.RESERVATION_EXPIRED
    assert due_expiry(S.RENTED, earlier, now) is A.DROPOFF_TOKEN_EXPIRED
    assert due_expiry(S.OCCUPIED, earlier, now) is None
    assert due_expiry(S.RESERVED, None, now) is None
    assert effective_state(S.RESERVED, earlier, now) is S.AVAILABLE
    assert effective_state(S.RENTED, later, now) is S.RENTED


def test_state_ids_and_labels() -> None:
    assert S.AVAILABLE == 1 and S.AVAILABLE.label == "available"
    assert S.OUT_OF_SERVICE.label == "out_of_service"
