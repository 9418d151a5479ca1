"""The long-poll wakeup loop: new commands wake their towers once, also when they commit out of
id order (PostgreSQL), and nothing older than the loop's start wakes anyone."""

from __future__ import annotations

from berth.cloud.tower_sync.wakeup import LOOKBACK, CommandWakeups


def test_new_commands_wake_their_towers_once_even_out_of_id_order() -> None:
    committed: list[tuple[int, str]] = [(1, "a"), (2, "b")]

    def after(floor: int) -> list[tuple[int, str]]:
        return [c for c in committed if c[0] > floor]

    wakeups = CommandWakeups(after, lambda: max(cid for cid, _ in committed), interval=1)
    assert wakeups.poll_once() == []  # the start: existing commands are read by the requests
    committed += [(4, "d")]
    assert wakeups.poll_once() == ["d"]
    committed += [(3, "c")]  # its transaction committed after id 4's
    assert wakeups.poll_once() == ["c"]
    assert wakeups.poll_once() == []
    committed += [(4 + LOOKBACK + 10, "e")]
    assert wakeups.poll_once() == ["e"]


def test_wake_sets_the_waiting_towers_event_only() -> None:
    wakeups = CommandWakeups(lambda _floor: [], lambda: 0, interval=1)
    a, b = wakeups.waiter("a"), wakeups.waiter("b")
    assert wakeups.waiter("a") is a  # polls of one tower share the event
    wakeups.wake(["a", "z"])
    assert a.is_set() and not b.is_set()
    assert wakeups.waiter("a") is not a  # the next poll waits for the next command


def test_an_idle_mark_holds_only_while_nothing_was_queued_for_that_partner_and_tower() -> None:
    wakeups = CommandWakeups(lambda _floor: [], lambda: 0, interval=1)
    assert not wakeups.known_idle(1, "a", 0)
    wakeups.waiter("a")
    wakeups.mark_idle(1, "a", 5)
    assert wakeups.known_idle(1, "a", 5) and wakeups.known_idle(1, "a", 9)
    assert not wakeups.known_idle(1, "a", 4)  # older commands may be pending
    assert not wakeups.known_idle(2, "a", 5)  # another partner: read (and 404) as usual
    wakeups.wake(["a"])
    wakeups.waiter("a")
    assert not wakeups.known_idle(1, "a", 5)  # a command came: read again
