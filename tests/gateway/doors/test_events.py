"""The gateway's event bus: a real door close reaches the audit log, the tower and anyone else."""

from __future__ import annotations

from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from berth import events as ev
from berth.domain.tokens import TokenKind
from berth.gateway.app import create_app
from berth.gateway.site import load_site
from berth.gateway.system.schemas import LogFilter
from berth.tower.identity import TowerIdentity
from tests.gateway.conftest import API_KEY, AUTH, make_config, simulated
from tests.gateway.doors.test_door_watcher import wait_for
from tests.tower.test_router import CLOUD_KEY, token

TOWER = "00aa11bb22cc33dd"


def test_a_door_close_reaches_the_audit_log_the_tower_and_a_test_subscriber(
        gateway_factory: Callable[..., TestClient], sqlite_url: str) -> None:
    site = load_site()
    controllers = simulated(site, close_after=None)  # the door stays open until the test shuts it
    identity = TowerIdentity(TOWER, Ed25519PrivateKey.generate(), {"k1": CLOUD_KEY.public},
                             lockers={901: (7, 0)})
    client = gateway_factory(sqlite_url, site, controllers=controllers, tower=identity)
    heard: list[ev.Event] = []
    client.app.state.bus.subscribe(heard.append, name="test")

    drop = token(901, TokenKind.DROPOFF, tower=TOWER)
    opened = client.post("/tower/open", json={"payload": drop.payload,
                                              "payload_auth": drop.payload_auth})
    assert opened.status_code == 200 and opened.json()["success"], opened.text
    lk = site.lockers_by_id[7]
    wait_for(lambda: any(isinstance(e, ev.DoorOpened) and e.locker_id == 7 for e in heard))
    controllers[lk.controller_id].close_door(lk.channel)  # the courier shuts the door

    def closed() -> list[ev.DoorClosed]:
        return [e for e in heard if isinstance(e, ev.DoorClosed) and e.locker_id == 7]

    wait_for(closed)
    event = closed()[0]
    assert (event.controller_id, event.channel) == (lk.controller_id, lk.channel)
    assert event.transaction_id == f"tower-{drop.claims.token_id}"  # the parcel's hold

    # the audit log heard it: the entry of GET /system/logs, at the event's time
    def logged() -> list[dict]:
        return [e for e in client.get("/system/logs", headers=AUTH,
                                      params={"lockerId": 7}).json()
                if e["event"] == "DOOR_CLOSED"]

    wait_for(logged)
    entry = logged()[0]
    assert entry["message"] == "Door of locker 7 closed"
    assert entry["transactionId"] == event.transaction_id
    assert entry["details"] == {"controllerId": lk.controller_id, "channel": lk.channel}

    # the tower heard it: the door closing spent the drop-off token (signed, for the cloud)
    def tower_types() -> list[str]:
        body = client.get("/tower/events", headers={"X-API-Key": API_KEY}).json()
        return [e["type"] for e in body["events"]]

    wait_for(lambda: "dropoff_token_used" in tower_types())
    assert "door_closed" in tower_types()
    # and said so on the bus in turn
    wait_for(lambda: any(isinstance(e, ev.TokenUsed) for e in heard))
    used = next(e for e in heard if isinstance(e, ev.TokenUsed))
    assert (used.token_id, used.locker_id, used.kind) == (drop.claims.token_id, 901, "dropoff")


def test_transactions_flags_jams_and_controllers_are_published(
        gateway_factory: Callable[..., TestClient], sqlite_url: str) -> None:
    site = load_site()
    controllers = simulated(site, close_after=None)
    client = gateway_factory(sqlite_url, site, controllers=controllers)
    client.headers.update(AUTH)
    bus = client.app.state.bus
    heard: list[ev.Event] = []
    bus.subscribe(heard.append, ev.TransactionEvent, ev.LockerFlagsChanged, ev.DoorJammed,
                  ev.ControllerOnline, ev.ControllerOffline)

    def seen(kind: type[ev.Event]) -> list:  # type: ignore[type-arg]
        return [e for e in heard if isinstance(e, kind)]

    locker = client.post("/transactions", json={"transactionId": "t-1"}).json()["lockerId"]
    assert client.delete("/transactions/t-1").status_code == 204
    assert client.delete("/transactions/t-1").status_code == 204  # again: nothing new happened
    wait_for(lambda: seen(ev.TransactionReleased))
    assert [(type(e), e.transaction_id, e.locker_id) for e in seen(ev.TransactionEvent)] == [
        (ev.TransactionCreated, "t-1", locker), (ev.TransactionReleased, "t-1", locker)]

    assert client.patch("/lockers/2", json={"outOfService": True,
                                            "reasonCode": "BROKEN_LOCK"}).status_code == 200
    wait_for(lambda: seen(ev.LockerFlagsChanged))
    flags = seen(ev.LockerFlagsChanged)[0]
    assert (flags.locker_id, flags.out_of_service, flags.reason_code) == (2, True, "BROKEN_LOCK")

    lk = site.lockers_by_id[4]
    controllers[lk.controller_id].jammed.add(lk.channel)
    assert client.post("/lockers/4/open").json()["reasonCode"] == "DOOR_DID_NOT_OPEN"
    wait_for(lambda: seen(ev.DoorJammed) and len(seen(ev.LockerFlagsChanged)) == 2)
    assert seen(ev.DoorJammed)[0].locker_id == 4
    fault = seen(ev.LockerFlagsChanged)[1]
    assert (fault.locker_id, fault.operational, fault.reason_code) == (
        4, False, "DOOR_DID_NOT_OPEN")

    controllers["bank-b"].offline = True
    wait_for(lambda: seen(ev.ControllerOffline))
    controllers["bank-b"].offline = False
    wait_for(lambda: seen(ev.ControllerOnline))
    assert {e.controller_id for e in seen(ev.ControllerOffline)} == {"bank-b"}
    assert bus.dropped == 0 and bus.failures == 0


def test_the_bus_drains_into_the_audit_log_when_the_gateway_stops(sqlite_url: str) -> None:
    """Shutdown order: the bus stops (draining the audit log) before the database closes."""
    site = load_site()
    controllers = simulated(site, close_after=None)
    app = create_app(make_config(sqlite_url, site, controllers=controllers,
                                 door_poll_interval=3600))
    service = app.state.service
    with TestClient(app) as client:
        controllers["bank-a"].force_open(1)
        client.portal.call(service.watcher.poll_once)
    # stopped at once after the poll: the audit log wrote the entry on its way out
    rows, _ = service.log.list_logs(LogFilter(locker_id=1))
    service.db.dispose()
    assert "DOOR_FORCED_OPEN" in [r.event for r in rows]
