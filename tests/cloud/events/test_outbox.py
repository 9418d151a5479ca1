"""The outbox on real SQLite and PostgreSQL: one event per change, in the change's transaction,
gap-free positions per partner, partner isolation, and the dispatcher's once-only claims."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from berth.cloud.app import build_service, dispatch_task
from berth.cloud.events import outbox
from berth.cloud.events.dispatch import Dispatcher
from berth.cloud.lockers.schemas import LockerCreate
from berth.cloud.services import CloudServices
from berth.cloud.tables import outbox as outbox_table
from berth.contracts.cloud import PartnerEvent
from berth.domain.errors import Conflict
from berth.domain.tokens import TokenKind, sign_event
from berth.kit.clock import FakeClock
from berth.storage import Database
from tests.cloud.conftest import Cloud, make_cloud, wait_until
from tests.support.configs import cloud_config, isolated_settings


class Recorder:
    """A consumer that keeps what it was handed (thread-safe), optionally failing once."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.seen: list[PartnerEvent] = []
        self.fail_on = fail_on
        self._lock = threading.Lock()

    def handle(self, event: PartnerEvent) -> None:
        if event.position == self.fail_on:
            self.fail_on = None
            raise RuntimeError("consumer down")
        with self._lock:
            self.seen.append(event)


@pytest.fixture
def svc(db_url: str, tmp_path: Path) -> Iterator[tuple[CloudServices, FakeClock, int, str]]:
    clock = FakeClock()
    service = build_service(cloud_config(db_url=db_url, data_dir=tmp_path, clock=clock,
                                        sweep_interval=0))
    pid = service.partners.create_partner("p").partner_id
    assert pid is not None
    tower = service.towers.create_tower("t")
    service.lockers.add_lockers(tower.id, [LockerCreate(name=str(i)) for i in range(12)])
    service.towers.assign_tower(tower.id, pid)
    yield service, clock, pid, tower.id
    service.db.dispose()


def rows(service: CloudServices, after_id: int = 0) -> list[dict[str, Any]]:
    with service.db.read() as conn:
        query = select(outbox_table).where(outbox_table.c.id > after_id).order_by("id")
        return [dict(r) for r in conn.execute(query).mappings()]


class Watch:
    """The outbox rows written since the last look."""

    def __init__(self, service: CloudServices) -> None:
        self.service, self.last = service, 0

    def new(self) -> Counter[str]:
        found = rows(self.service, self.last)
        if found:
            self.last = found[-1]["id"]
        return Counter(r["type"] for r in found)


def ids(service: CloudServices, tower_id: str, pid: int) -> list[int]:
    return [lk.id for lk in service.lockers.list_lockers(pid, tower_id)]


def test_each_kind_of_change_writes_its_events_once(svc: Any) -> None:
    service, clock, pid, tower = svc
    lk = ids(service, tower, pid)
    watch = Watch(service)
    changed = "locker.state_changed"

    res = service.reservations.create_reservation(pid, tower, lk[0], 60)
    assert watch.new() == {changed: 1, "reservation.created": 1}
    service.reservations.cancel_reservation(pid, tower, lk[0], res.id)
    assert watch.new() == {changed: 1, "reservation.cancelled": 1}
    service.reservations.create_reservation(pid, tower, lk[1], 60)
    watch.new()
    clock.advance(61)
    assert service.lockers.sweep() == 1
    assert watch.new() == {changed: 1, "reservation.expired": 1}

    service.reservations.create_reservation(pid, tower, lk[2], 60)
    watch.new()
    drop = service.tokens.issue_token(pid, tower, lk[2], TokenKind.DROPOFF, 600)
    assert watch.new() == {changed: 1, "reservation.used": 1, "token.issued": 1}
    release = service.tokens.decline_locker(pid, tower, lk[2], 600)
    assert watch.new() == {changed: 1, "token.issued": 1}

    service.tokens.issue_token(pid, tower, lk[3], TokenKind.DROPOFF, 600)
    watch.new()
    key = service.towers.provisioning(tower)
    tower_key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(key.tower_private_key))
    event = sign_event({"tower_id": tower, "seq": 1, "type": "dropoff_token_used",
                        "timestamp": int(clock().timestamp()), "locker_id": lk[2],
                        "token_id": drop.token_id}, tower_key)
    assert service.tower_sync.ingest_events(pid, tower, [event])[0].outcome == "applied"
    assert watch.new() == {changed: 1, "tower.event_applied": 1}
    assert service.tower_sync.ingest_events(pid, tower, [event])[0].outcome == "duplicate"
    assert watch.new() == {}  # a replay changes nothing, so it tells nothing

    # no holder: the tower's partners hear it
    service.lockers.set_out_of_service(tower, lk[5], True)
    assert watch.new() == {changed: 1, "locker.out_of_service": 1}
    service.lockers.set_out_of_service(tower, lk[5], False)
    assert watch.new() == {changed: 1, "locker.back_in_service": 1}

    everything = rows(service)
    text = json.dumps([r["data"] for r in everything])
    for secret in (drop.payload_auth, release.payload_auth):
        assert secret not in text
    assert all("payload_auth" not in json.loads(r["data"]) for r in everything)
    first = json.loads(everything[0]["data"])
    assert first == {"from": "available", "to": "reserved", "action": "create_reservation",
                     "generation": 0}
    assert [r["position"] for r in everything] == list(range(1, len(everything) + 1))
    assert {r["partner_id"] for r in everything} == {pid}


def test_a_change_that_rolls_back_writes_no_event(svc: Any) -> None:
    service, clock, pid, tower = svc
    lk = ids(service, tower, pid)
    service.reservations.create_reservation(pid, tower, lk[0], 60)
    before = len(rows(service))
    with pytest.raises(Conflict):  # occupied by a reservation already
        service.reservations.create_reservation(pid, tower, lk[0], 60)
    clock.advance(61)
    # The lazy expiry runs (and emits) inside the transaction; the refusal after it rolls back
    # both the expiry and its events.
    with pytest.raises(Conflict):
        service.tokens.issue_token(pid, tower, lk[0], TokenKind.PICKUP, 60)
    assert len(rows(service)) == before
    with pytest.raises(ZeroDivisionError), outbox.transaction(service.db) as conn:
        outbox.emit(conn, [pid], "locker.state_changed", tower, lk[1], clock(), {})
        _ = 1 / 0
    assert len(rows(service)) == before
    with service.db.write() as conn, pytest.raises(RuntimeError):
        outbox.emit(conn, [pid], "x", tower, None, clock(), {})


def test_positions_stay_gap_free_under_concurrent_writers(svc: Any) -> None:
    service, _, pid, tower = svc
    lk = ids(service, tower, pid)
    other = service.partners.create_partner("q").partner_id
    service.towers.assign_tower(tower, other)

    def churn(who: int, locker: int) -> None:
        for _ in range(4):
            res = service.reservations.create_reservation(who, tower, locker, 60)
            service.reservations.cancel_reservation(who, tower, locker, res.id)

    threads = [threading.Thread(target=churn, args=(pid if i % 2 else other, locker))
               for i, locker in enumerate(lk[:8])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    found = rows(service)
    for who in (pid, other):
        mine = [r for r in found if r["partner_id"] == who]
        assert len(mine) == 4 * 4 * 2 * 2  # 4 threads, 4 rounds, 2 changes, 2 events each
        by_id = [r["position"] for r in mine]  # commit order on SQLite; any order on PostgreSQL
        assert sorted(by_id) == list(range(1, len(mine) + 1))


def test_dispatcher_hands_each_event_once_and_takes_over_a_dead_claim(svc: Any) -> None:
    service, clock, pid, tower = svc
    lk = ids(service, tower, pid)
    for locker in lk[:3]:
        service.reservations.create_reservation(pid, tower, locker, 600)
    dead = Dispatcher(service.db, [Recorder()], clock=clock, lease=30, name="dead")
    assert len(dead._claim()) == 6  # claimed, then the process "dies" before dispatching
    live_recorder = Recorder()
    live = Dispatcher(service.db, [live_recorder], clock=clock, lease=30, name="live")
    assert live.run_once() == 0  # the lease still holds
    clock.advance(31)
    assert live.run_once() == 6
    assert [e.position for e in live_recorder.seen] == [1, 2, 3, 4, 5, 6]
    assert live.run_once() == 0
    assert all(r["dispatched_at"] is not None for r in rows(service))


def test_a_failing_consumer_leaves_the_event_for_a_retry_in_order(svc: Any) -> None:
    service, clock, pid, tower = svc
    lk = ids(service, tower, pid)
    for locker in lk[:2]:
        service.reservations.create_reservation(pid, tower, locker, 600)
    recorder = Recorder(fail_on=2)
    dispatcher = Dispatcher(service.db, [recorder], clock=clock)
    assert dispatcher.run_once() == 1
    assert dispatcher.run_once() == 3  # released at once: no lease to wait for
    assert [e.position for e in recorder.seen] == [1, 2, 3, 4]


def test_two_dispatchers_on_postgres_dispatch_each_event_exactly_once(
    postgres_url: str, tmp_path: Path
) -> None:
    service = build_service(cloud_config(db_url=postgres_url, data_dir=tmp_path, sweep_interval=0))
    pid = service.partners.create_partner("p").partner_id
    assert pid is not None
    tower = service.towers.create_tower("t")
    service.lockers.add_lockers(tower.id, [LockerCreate(name=str(i)) for i in range(30)])
    service.towers.assign_tower(tower.id, pid)
    for locker in ids(service, tower.id, pid):
        service.reservations.create_reservation(pid, tower.id, locker, 600)
    recorder = Recorder()
    dispatchers = [Dispatcher(service.db, [recorder], batch=4, name=f"d{i}") for i in range(2)]

    def drain(d: Dispatcher) -> None:
        while d.run_once():
            pass

    threads = [threading.Thread(target=drain, args=(d,)) for d in dispatchers for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    positions = Counter(e.position for e in recorder.seen)
    assert sorted(positions) == list(range(1, 61)) and set(positions.values()) == {1}
    with service.db.read() as conn:
        left = conn.execute(select(func.count()).select_from(outbox_table)
                            .where(outbox_table.c.dispatched_at.is_(None))).scalar()
    assert left == 0
    service.db.dispose()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[Cloud, Recorder]]:
    recorder = Recorder()
    yield from ((c, recorder) for c in make_cloud(
        f"sqlite:///{tmp_path / 'c.db'}", tmp_path / "data", outbox_dispatch_interval=0.05,
        outbox_consumers=[recorder]))


def test_the_app_dispatches_in_the_background(live: tuple[Cloud, Recorder]) -> None:
    c, recorder = live
    lid = c.locker_ids()[0]
    r = c.http.post(f"{c.lockers_url()}/{lid}/reservations", json={"duration": 60},
                    headers=c.headers())
    assert r.status_code == 201
    wait_until(lambda: len(recorder.seen) == 2)
    assert {e.type for e in recorder.seen} == {"locker.state_changed", "reservation.created"}


def test_a_partner_reads_only_its_own_stream(cloud: Cloud) -> None:
    c = cloud
    svc = c.service
    own = svc.towers.create_tower("other's")
    svc.lockers.add_lockers(own.id, [LockerCreate(name="1")])
    other_id = svc.partners.partner_id("other")
    svc.towers.assign_tower(own.id, other_id)
    other_locker = svc.lockers.list_lockers(other_id, own.id)[0].id
    for lid in c.locker_ids()[:3]:
        assert c.http.post(f"{c.lockers_url()}/{lid}/reservations", json={"duration": 60},
                           headers=c.headers()).status_code == 201
    assert c.http.post(f"/api/v1/towers/{own.id}/lockers/{other_locker}/reservations",
                       json={"duration": 60}, headers=c.headers("other")).status_code == 201

    mine = c.http.get("/api/v1/events", headers=c.headers()).json()
    assert [e["position"] for e in mine["events"]] == [1, 2, 3, 4, 5, 6]
    assert mine["next_after"] == 6 and {e["tower_id"] for e in mine["events"]} == {c.tower_id}
    page = c.http.get("/api/v1/events?after=2&limit=3", headers=c.headers()).json()
    assert [e["position"] for e in page["events"]] == [3, 4, 5] and page["next_after"] == 5
    end = c.http.get("/api/v1/events?after=6", headers=c.headers()).json()
    assert end == {"events": [], "next_after": 6}
    theirs = c.http.get("/api/v1/events", headers=c.headers("other")).json()["events"]
    assert [(e["position"], e["tower_id"]) for e in theirs] == [(1, own.id), (2, own.id)]
    assert {e["partner_id"] for e in theirs} == {other_id}


@pytest.mark.parametrize("query", ["after=-1", "after=x", f"after={2**63}", "limit=0",
                                   "limit=501", "limit=1.5"])
def test_out_of_bounds_paging_is_a_422(cloud: Cloud, query: str) -> None:
    r = cloud.http.get(f"/api/v1/events?{query}", headers=cloud.headers())
    assert r.status_code == 422 and isinstance(r.json()["detail"], list)


def test_the_stream_needs_the_service_provider_scope(cloud: Cloud) -> None:
    assert cloud.http.get("/api/v1/events").status_code == 401
    r = cloud.http.get("/api/v1/events", headers=cloud.headers("demo", "tower_access"))
    assert r.status_code == 403 and r.json()["code"] == "INSUFFICIENT_SCOPE"


def test_no_consumer_or_a_zero_interval_means_no_dispatching(tmp_path: Path) -> None:
    """Nothing marks events sent that nobody received: a consumer added later gets them."""
    no_webhooks = isolated_settings(cloud={"webhooks_delivery_interval": 0})
    base = cloud_config(db_url="sqlite://", data_dir=tmp_path, settings=no_webhooks,
                        outbox_dispatch_interval=1)
    dispatcher = Dispatcher(Database(f"sqlite:///{tmp_path / 'd.db'}"), [])
    assert dispatch_task(base, dispatcher) is None
    off = cloud_config(db_url="sqlite://", data_dir=tmp_path, outbox_dispatch_interval=0,
                      outbox_consumers=[Recorder()])
    assert dispatch_task(off, dispatcher) is None
    on = cloud_config(db_url="sqlite://", data_dir=tmp_path, outbox_consumers=[Recorder()])
    task = dispatch_task(on, dispatcher)
    assert task is not None
    task.close()
