"""Locker endpoints: flags, configuration, service state, opening one and all."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from berth.gateway.site import load_site
from berth.hardware.simulated import SimulatedController
from tests.gateway.conftest import AUTH, simulated


def test_list_and_filter_lockers(client: TestClient) -> None:
    r = client.get("/lockers")
    assert r.status_code == 200 and r.headers["X-Total-Count"] == "36"
    first = r.json()[0]
    assert first["lockerId"] == 1
    for flag in ("outOfService", "operational", "doorOpen", "available"):
        assert flag in first
    assert first["available"] is True and first["reasonCode"] is None
    larges = client.get("/lockers", params={"lockerType": "large"}).json()
    assert len(larges) == 4 and {lk["lockerType"]["slug"] for lk in larges} == {"large"}
    page = client.get("/lockers", params={"bankId": 2, "limit": 5, "offset": 5})
    assert [lk["lockerId"] for lk in page.json()] == [18, 19, 20, 21, 22]
    assert page.headers["X-Total-Count"] == "12"
    assert client.get("/lockers", params={"lockerType": "huge"}).json()["error"] == \
        "UNKNOWN_LOCKER_TYPE"


def test_locker_details_and_config(client: TestClient) -> None:
    assert client.get("/lockers/99").status_code == 404
    assert client.get("/lockers/99").json()["error"] == "LOCKER_NOT_FOUND"
    assert client.get("/lockers/abc").status_code == 400
    cfg = client.get("/lockers/14/config").json()
    assert cfg["bankId"] == 2 and cfg["bankLockerNumber"] == 2 and cfg["channel"] == 2
    assert cfg["controllerId"] == "bank-b" and cfg["controllerProtocol"] == "kerong"
    assert cfg["lockerType"]["slug"] == "small" and cfg["lockerType"]["heightInches"] == 8
    assert cfg["attributes"] == ["high"]
    assert client.get("/lockers/99/config").status_code == 404


def test_out_of_service_keeps_transactions_and_blocks_assignment(any_client: TestClient) -> None:
    tx = any_client.post("/transactions", json={"transactionId": "keep"}).json()
    locker_id = tx["lockerId"]
    r = any_client.patch(f"/lockers/{locker_id}", json={
        "outOfService": True, "reasonCode": "BROKEN_LOCK", "reason": "latch sticks"})
    assert r.status_code == 200
    body = r.json()
    assert body["outOfService"] is True and body["available"] is False
    assert body["reasonCode"] == "BROKEN_LOCK" and body["reason"] == "latch sticks"
    assert any_client.get("/transactions/keep").json()["active"] is True
    any_client.delete("/transactions/keep")
    # free but out of service: never assigned
    for i in range(11):
        r = any_client.post("/transactions", json={"transactionId": f"s{i}",
                                               "preferredLockerType": "small"})
        assert r.json().get("lockerId") != locker_id
    back = any_client.patch(f"/lockers/{locker_id}", json={"outOfService": False})
    assert back.json()["outOfService"] is False and back.json()["available"] is True
    assert back.json()["reasonCode"] is None
    events = [e["event"] for e in any_client.get("/system/logs",
                                             params={"lockerId": locker_id}).json()]
    assert "LOCKER_OUT_OF_SERVICE" in events and "LOCKER_IN_SERVICE" in events


def test_patch_validation(client: TestClient) -> None:
    for body in ({}, {"outOfService": "yes"}, {"outOfService": True, "reasonCode": "bad code"},
                 {"outOfService": True, "reason": "x" * 501}):
        r = client.patch("/lockers/1", json=body)
        assert r.status_code == 400 and r.json()["error"] == "VALIDATION_ERROR", body
    assert client.patch("/lockers/99", json={"outOfService": True}).status_code == 404


def test_open_locker_for_maintenance(client: TestClient) -> None:
    client.patch("/lockers/3", json={"outOfService": True})
    r = client.post("/lockers/3/open")
    assert r.status_code == 200
    assert r.json()["success"] is True and r.json()["doorOpen"] is True
    assert client.get("/lockers/3").json()["doorOpen"] is True
    assert client.post("/lockers/99/open").status_code == 404


def test_jammed_door_fails_marks_non_operational_and_is_skipped(
        gateway_factory: Callable[..., TestClient], sqlite_url: str) -> None:
    site = load_site()
    controllers = simulated(site)
    controllers["bank-a"].jammed.add(1)
    client = gateway_factory(sqlite_url, site, controllers=controllers)
    client.headers.update(AUTH)
    r = client.post("/lockers/1/open")
    assert r.status_code == 200
    body = r.json()
    assert body["success"] is False and body["doorOpen"] is False
    assert body["reasonCode"] == "DOOR_DID_NOT_OPEN" and body["message"]
    locker = client.get("/lockers/1").json()
    assert locker["operational"] is False and locker["reasonCode"] == "DOOR_DID_NOT_OPEN"
    assert client.post("/transactions", json={"transactionId": "x"}).json()["lockerId"] == 2
    failed = client.get("/system/logs", params={"lockerId": 1, "level": "error"}).json()
    assert {e["event"] for e in failed} >= {"LOCKER_OPEN_FAILED", "LOCKER_FAULT"}
    # the lock is fixed: a successful open makes it operational again
    controllers["bank-a"].jammed.clear()
    assert client.post("/lockers/1/open").json()["success"] is True
    assert client.get("/lockers/1").json()["operational"] is True


def test_unreachable_controller_is_reported_not_500(
        gateway_factory: Callable[..., TestClient], sqlite_url: str) -> None:
    site = load_site()
    controllers = simulated(site)
    controllers["bank-b"].offline = True
    client = gateway_factory(sqlite_url, site, controllers=controllers)
    client.headers.update(AUTH)
    r = client.post("/lockers/13/open")
    assert r.status_code == 200
    assert r.json()["success"] is False and r.json()["reasonCode"] == "CONTROLLER_UNREACHABLE"


def test_unknown_opening_is_door_open_null_not_a_plain_failure(
        gateway_factory: Callable[..., TestClient], sqlite_url: str) -> None:
    from berth.hardware.driver import CommunicationError

    class LostReply(SimulatedController):
        async def unlock(self, channel: int) -> None:  # fires, reply lost, door shut at once
            await super().unlock(channel)
            self.close_door(channel)
            raise CommunicationError("reply lost")

    site = load_site()
    controllers = simulated(site, close_after=None)
    controllers["bank-a"] = LostReply("bank-a", controllers["bank-a"].channels, None)
    client = gateway_factory(sqlite_url, site, controllers=controllers)
    client.headers.update(AUTH)
    body = client.post("/lockers/2/open").json()
    assert body["success"] is False and body["doorOpen"] is None
    assert body["reasonCode"] == "DOOR_STATE_UNKNOWN"
    assert controllers["bank-a"].unlocks == [2]


def test_open_all_is_200_when_all_open_207_when_mixed(
        gateway_factory: Callable[..., TestClient], sqlite_url: str, tmp_path) -> None:
    client = gateway_factory(sqlite_url)
    client.headers.update(AUTH)
    r = client.post("/lockers/open-all")
    assert r.status_code == 200
    body = r.json()
    assert body["success"] is True and body["total"] == body["opened"] == 36
    assert [x["lockerId"] for x in body["results"]] == list(range(1, 37))

    site = load_site()
    controllers: dict[str, SimulatedController] = simulated(site)
    controllers["bank-c"].jammed.update({1, 2})
    other = gateway_factory(f"sqlite:///{tmp_path / 'other.db'}", site,
                            controllers=controllers)
    other.headers.update(AUTH)
    mixed = other.post("/lockers/open-all")
    assert mixed.status_code == 207
    body = mixed.json()
    assert body["success"] is False and body["opened"] == 34 and body["failed"] == 2
    assert [x["lockerId"] for x in body["results"] if not x["success"]] == [25, 26]


def test_missing_controller_is_a_reported_failure(
        gateway_factory: Callable[..., TestClient], sqlite_url: str) -> None:
    site = load_site()
    controllers = simulated(site)
    del controllers["bank-c"]
    client = gateway_factory(sqlite_url, site, controllers=controllers)
    client.headers.update(AUTH)
    r = client.post("/lockers/30/open")
    assert r.status_code == 200
    assert r.json()["success"] is False and r.json()["reasonCode"] == "DRIVER_ERROR"
    assert "bank-c" in r.json()["message"]
