"""The cloud locker state machine: one table of arrows, guard rules, and stable refusal codes.

Pure: no I/O, no clock. The service layer loads a locker, asks :func:`next_state` what an action
does to it, and writes the answer in the same transaction. Everything not in :data:`TRANSITIONS`
is refused with a :class:`TransitionRefused` whose ``code`` names the state and the action, e.g.
``LOCKER_OCCUPIED_CANNOT_CREATE_RESERVATION``; a guard refusal (the locker is held by another
partner) reads ``LOCKER_RESERVED_FOR_ANOTHER_CANNOT_CREATE_DROPOFF_TOKEN``.

State ids: available = 1 (public, as in the original), reserved = 2, rented = 3, occupied = 4,
declined = 5 (older name "released"), out_of_service = 6.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum, StrEnum

from berth.domain.errors import Conflict


class LockerState(IntEnum):
    AVAILABLE = 1
    RESERVED = 2
    RENTED = 3
    OCCUPIED = 4
    DECLINED = 5
    OUT_OF_SERVICE = 6

    @property
    def label(self) -> str:
        """The public name, lower case as the original prints it (``out_of_service``)."""
        return self.name.lower()


class Action(StrEnum):
    """Partner requests, tower-reported events, clock expiries and operator switches."""

    CREATE_RESERVATION = "create_reservation"
    CANCEL_RESERVATION = "cancel_reservation"
    RESERVATION_EXPIRED = "reservation_expired"
    CREATE_DROPOFF_TOKEN = "create_dropoff_token"
    CREATE_PICKUP_TOKEN = "create_pickup_token"
    RELEASE_LOCKER = "release_locker"
    DROPOFF_TOKEN_USED = "dropoff_token_used"
    DROPOFF_TOKEN_EXPIRED = "dropoff_token_expired"
    PICKUP_TOKEN_USED = "pickup_token_used"
    RELEASE_TOKEN_SET = "release_token_set"
    SET_OUT_OF_SERVICE = "set_out_of_service"
    CLEAR_OUT_OF_SERVICE = "clear_out_of_service"


S, A = LockerState, Action

#: Every allowed arrow of the guide's diagram, and nothing else.
TRANSITIONS: dict[tuple[LockerState, Action], LockerState] = {
    (S.AVAILABLE, A.CREATE_RESERVATION): S.RESERVED,
    (S.RESERVED, A.CANCEL_RESERVATION): S.AVAILABLE,
    (S.RESERVED, A.RESERVATION_EXPIRED): S.AVAILABLE,
    (S.AVAILABLE, A.CREATE_DROPOFF_TOKEN): S.RENTED,  # "NoToken --> Rented"
    (S.RESERVED, A.CREATE_DROPOFF_TOKEN): S.RENTED,
    (S.RENTED, A.CREATE_DROPOFF_TOKEN): S.RENTED,
    (S.OCCUPIED, A.CREATE_DROPOFF_TOKEN): S.OCCUPIED,
    (S.OCCUPIED, A.CREATE_PICKUP_TOKEN): S.OCCUPIED,
    (S.RENTED, A.RELEASE_LOCKER): S.DECLINED,
    (S.RENTED, A.DROPOFF_TOKEN_USED): S.OCCUPIED,
    (S.DECLINED, A.DROPOFF_TOKEN_USED): S.OCCUPIED,
    (S.RENTED, A.DROPOFF_TOKEN_EXPIRED): S.AVAILABLE,
    (S.OCCUPIED, A.PICKUP_TOKEN_USED): S.AVAILABLE,
    (S.DECLINED, A.RELEASE_TOKEN_SET): S.AVAILABLE,
    (S.AVAILABLE, A.SET_OUT_OF_SERVICE): S.OUT_OF_SERVICE,
    (S.OUT_OF_SERVICE, A.CLEAR_OUT_OF_SERVICE): S.AVAILABLE,
}

#: Partner requests that only the partner holding the locker may make (when someone holds it).
HOLDER_ONLY: frozenset[Action] = frozenset(
    {A.CANCEL_RESERVATION, A.CREATE_DROPOFF_TOKEN, A.CREATE_PICKUP_TOKEN, A.RELEASE_LOCKER}
)

#: Arrows that end a holding: the locker is nobody's afterwards.
RELEASES_HOLDER: frozenset[LockerState] = frozenset({S.AVAILABLE, S.OUT_OF_SERVICE})

#: Arrows after which every earlier token for the locker must die (the generation moves on).
BUMPS_GENERATION: frozenset[Action] = frozenset({A.PICKUP_TOKEN_USED, A.RELEASE_TOKEN_SET})

#: What the clock does to a state whose deadline has passed.
EXPIRES_AS: dict[LockerState, Action] = {
    S.RESERVED: A.RESERVATION_EXPIRED,
    S.RENTED: A.DROPOFF_TOKEN_EXPIRED,
}


class TransitionRefused(Conflict):
    """A request the diagram does not allow; ``code`` is stable and machine-readable."""

    def __init__(self, state: LockerState, action: Action, *, guard: bool = False) -> None:
        self.state, self.action, self.guard = state, action, guard
        owner = "_FOR_ANOTHER" if guard else ""
        why = "it is held by another partner" if guard else "the diagram has no such arrow"
        verb = action.value.replace("_", " ")
        super().__init__(f"LOCKER_{state.name}{owner}_CANNOT_{action.name}",
                         f"Locker is {state.label}: cannot {verb}, {why}.")


@dataclass(frozen=True)
class Outcome:
    """The result of an allowed arrow: the new state and its side effects on the locker."""

    state: LockerState
    release_holder: bool
    bump_generation: bool


def next_state(
    state: LockerState,
    action: Action,
    *,
    requester: int | None = None,
    holder: int | None = None,
) -> Outcome:
    """Apply one arrow or raise :class:`TransitionRefused`.

    ``requester`` is the partner asking (None for tower events, the clock and operators);
    ``holder`` is the partner the locker is assigned to, if any. A held locker takes partner
    requests only from its holder: that is the guide's "no one can ask for a drop-off token
    except the reservation creator", applied to every held state.
    """
    target = TRANSITIONS.get((state, action))
    if target is None:
        raise TransitionRefused(state, action)
    if (
        action in HOLDER_ONLY
        and holder is not None
        and requester is not None
        and requester != holder
    ):
        raise TransitionRefused(state, action, guard=True)
    return Outcome(
        state=target,
        release_holder=target in RELEASES_HOLDER,
        bump_generation=action in BUMPS_GENERATION,
    )


def due_expiry(state: LockerState, deadline: datetime | None, now: datetime) -> Action | None:
    """The expiry action a locker owes at ``now`` (reservation or unused drop-off token), if any."""
    if deadline is None or deadline > now:
        return None
    return EXPIRES_AS.get(state)


def effective_state(state: LockerState, deadline: datetime | None, now: datetime) -> LockerState:
    """What a reader should see even if no writer (or sweeper) has applied a due expiry yet."""
    action = due_expiry(state, deadline, now)
    return state if action is None else TRANSITIONS[(state, action)]
