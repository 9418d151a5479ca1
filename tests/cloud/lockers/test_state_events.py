"""Every committed cloud locker state change is published on the app's bus, after its commit."""

from __future__ import annotations

import pytest

from berth.cloud.lockers import lifecycle
from berth.cloud.lockers import repository as lockers_repo
from berth.domain.lifecycle import Action
from berth.events.types import CloudLockerStateChanged
from tests.cloud.conftest import Cloud, wait_until


def listen(cloud: Cloud) -> list[CloudLockerStateChanged]:
    heard: list[CloudLockerStateChanged] = []
    bus = cloud.http.app.state.bus  # type: ignore[attr-defined]
    assert bus is cloud.service.bus
    bus.subscribe(heard.append, CloudLockerStateChanged, name="test")
    return heard


def moves(heard: list[CloudLockerStateChanged]) -> list[tuple[int, str | None, str]]:
    return [(e.locker_id, e.previous, e.state) for e in heard]


def test_state_changes_reach_a_subscriber(cloud: Cloud) -> None:
    heard = listen(cloud)
    lid = cloud.locker_ids()[0]
    url = f"{cloud.lockers_url()}/{lid}"
    r = cloud.http.post(f"{url}/reservations", json={"duration": 60}, headers=cloud.headers())
    assert r.status_code == 201
    r = cloud.http.post(f"{url}/dropoff-locker-tokens", json={"duration": 600},
                        headers=cloud.headers())
    assert r.status_code == 201
    wait_until(lambda: len(heard) == 2)
    assert moves(heard) == [(lid, "available", "reserved"), (lid, "reserved", "rented")]
    assert {e.tower_id for e in heard} == {cloud.tower_id}
    assert heard[0].occurred_at == cloud.clock()  # the cloud's clock, not the machine's

    # A second drop-off token keeps it Rented: an arrow, but no state change to announce.
    r = cloud.http.post(f"{url}/dropoff-locker-tokens", json={"duration": 600},
                        headers=cloud.headers())
    assert r.status_code == 201
    # A refused request changes nothing and announces nothing.
    r = cloud.http.post(f"{url}/pickup-locker-tokens", json={"duration": 600},
                        headers=cloud.headers())
    assert r.status_code == 409
    cloud.clock.advance(3600)
    assert cloud.service.lockers.sweep() == 1  # the rental ran out: the sweeper publishes too
    wait_until(lambda: len(heard) == 3)
    assert moves(heard)[2] == (lid, "rented", "available")


def test_a_rolled_back_change_is_never_published(cloud: Cloud) -> None:
    heard = listen(cloud)
    lid = cloud.locker_ids()[1]
    ctx = cloud.service.ctx
    with pytest.raises(ZeroDivisionError), ctx.write() as conn:
        row = lockers_repo.locker(conn, lid, for_update=True)
        assert row is not None
        lifecycle.apply(conn, row, Action.SET_OUT_OF_SERVICE, ctx.clock(), None)
        raise ZeroDivisionError  # fails after the arrow was written: it rolls back
    assert cloud.state(lid) == "available"
    # The next committed change is heard, and it is the only one.
    r = cloud.http.patch(f"/api/v1/admin/towers/{cloud.tower_id}/lockers/{lid}",
                         json={"outOfService": True},
                         headers=cloud.headers("operator", "operator"))
    assert r.status_code == 200
    wait_until(lambda: len(heard) == 1)
    assert moves(heard) == [(lid, "available", "out_of_service")]  # FIFO: none before it
