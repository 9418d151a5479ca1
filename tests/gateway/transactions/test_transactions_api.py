"""The transaction endpoints over HTTP, as an integrator would use them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.gateway.conftest import CURL_EXAMPLE


def create(client: TestClient, transaction_id: str, **body: object):  # type: ignore[no-untyped-def]
    return client.post("/transactions", json={"transactionId": transaction_id, **body})


def test_seed_curl_example_works_unchanged(any_client: TestClient) -> None:
    r = any_client.post("/transactions", json=CURL_EXAMPLE)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["transactionId"] == "string"
    assert isinstance(body["lockerId"], int)
    assert body["createdAt"].endswith("Z")
    datetime.fromisoformat(body["createdAt"].replace("Z", "+00:00"))
    locker = any_client.get(f"/lockers/{body['lockerId']}").json()
    # item 18x24x12 upright needs height >= 24: medium (16 high) cannot, fallback gives large
    assert locker["lockerType"]["slug"] == "large"
    assert "low" in locker["attributes"]
    assert locker["available"] is False and locker["transactionId"] == "string"


def test_same_id_again_is_409_with_existing_transaction(any_client: TestClient) -> None:
    first = create(any_client, "t-1").json()
    again = create(any_client, "t-1", preferredLockerType="large")
    assert again.status_code == 409
    body = again.json()
    assert body["lockerId"] == first["lockerId"]
    assert body["createdAt"] == first["createdAt"]
    assert body["error"] == "TRANSACTION_EXISTS"


def test_get_release_and_ids_are_never_reused(any_client: TestClient) -> None:
    created = create(any_client, "t-2").json()
    got = any_client.get("/transactions/t-2")
    assert got.status_code == 200
    assert got.json()["lockerId"] == created["lockerId"] and got.json()["active"] is True

    assert any_client.delete("/transactions/t-2").status_code == 204
    assert any_client.delete("/transactions/t-2").status_code == 204  # idempotent
    released = any_client.get("/transactions/t-2").json()
    assert released["active"] is False and released["releasedAt"]
    locker = any_client.get(f"/lockers/{created['lockerId']}").json()
    assert locker["available"] is True and locker["transactionId"] is None

    reuse = create(any_client, "t-2")
    assert reuse.status_code == 409 and reuse.json()["active"] is False


def test_unknown_transaction_is_404_error_body(client: TestClient) -> None:
    for method, path in [("GET", "/transactions/nope"), ("DELETE", "/transactions/nope"),
                         ("POST", "/transactions/nope/open")]:
        r = client.request(method, path)
        assert r.status_code == 404
        assert r.json()["error"] == "TRANSACTION_NOT_FOUND"
        assert set(r.json()) == {"error", "message", "timestamp", "details"}


def test_smallest_fitting_locker_and_exhaustion(any_client: TestClient) -> None:
    # no preferences: smallest type first (small), lowest id first
    assert any_client.get(f"/lockers/{create(any_client, 'a').json()['lockerId']}").json()[
        "lockerType"]["slug"] == "small"
    larges = [create(any_client, f"L{i}", preferredLockerType="large") for i in range(5)]
    assert [r.status_code for r in larges] == [201, 201, 201, 201, 409]
    assert larges[-1].json()["error"] == "NO_AVAILABLE_LOCKERS"
    ids = {r.json()["lockerId"] for r in larges[:4]}
    assert len(ids) == 4


def test_fallback_to_larger_types_only_when_allowed(client: TestClient) -> None:
    for i in range(4):  # take every large locker
        assert create(client, f"L{i}", preferredLockerType="large").status_code == 201
    mediums = client.get("/lockers", params={"lockerType": "medium"}).json()
    for i, _ in enumerate(mediums):
        assert create(client, f"M{i}", preferredLockerType="medium").status_code == 201
    assert create(client, "m-x", preferredLockerType="medium").json()["error"] == \
        "NO_AVAILABLE_LOCKERS"
    smalls = client.get("/lockers", params={"lockerType": "small", "available": True}).json()
    for i, _ in enumerate(smalls):
        r = create(client, f"S{i}", preferredLockerType="small")
        assert r.status_code == 201
    # small preferred, fallback allowed, but everything is full
    assert create(client, "s-x", preferredLockerType="small",
                  allowFallback=True).status_code == 409


def test_fallback_goes_to_next_larger_type(client: TestClient) -> None:
    smalls = client.get("/lockers", params={"lockerType": "small"}).json()
    for i, _ in enumerate(smalls):
        assert create(client, f"S{i}", preferredLockerType="small").status_code == 201
    r = create(client, "fb", preferredLockerType="small", allowFallback=True)
    assert r.status_code == 201
    assert client.get(f"/lockers/{r.json()['lockerId']}").json()["lockerType"]["slug"] == \
        "medium"
    assert create(client, "nofb", preferredLockerType="small").json()["error"] == \
        "NO_AVAILABLE_LOCKERS"


def test_attribute_preference_versus_requirement(any_client: TestClient) -> None:
    r = create(any_client, "p1", preferredLockerType="large", preferredAttributes=["low"])
    assert "low" in any_client.get(f"/lockers/{r.json()['lockerId']}").json()["attributes"]
    create(any_client, "p2", preferredLockerType="large", preferredAttributes=["low"])
    # both low larges taken: required -> none; preferred -> a high one
    req = create(any_client, "p3", preferredLockerType="large", preferredAttributes=["low"],
                 attributesRequired=True)
    assert req.json()["error"] == "NO_AVAILABLE_LOCKERS"
    pref = create(any_client, "p4", preferredLockerType="large", preferredAttributes=["low"])
    assert pref.status_code == 201
    assert any_client.get(f"/lockers/{pref.json()['lockerId']}").json()["attributes"] == ["high"]


def test_matching_strategies(client: TestClient) -> None:
    # 30 tall item: upright only fits large (30 high); lying down it fits a medium (20 deep)?
    # sorted item (6, 10, 19) vs medium sorted (16, 16, 20): fits any_orientation only
    item = {"widthInches": 6, "heightInches": 19, "lengthInches": 10}
    upright = create(client, "up", **item, matchingStrategy="do_not_tip")
    rotated = create(client, "rot", **item, matchingStrategy="any_orientation")
    types = [client.get(f"/lockers/{r.json()['lockerId']}").json()["lockerType"]["slug"]
             for r in (upright, rotated)]
    assert types == ["large", "small"]


@pytest.mark.parametrize(("body", "code"), [
    ({"widthInches": 30, "heightInches": 40, "lengthInches": 30}, "ITEM_TOO_LARGE"),
    ({"preferredLockerType": "huge"}, "UNKNOWN_LOCKER_TYPE"),
    ({"preferredAttributes": ["purple"]}, "UNKNOWN_ATTRIBUTE"),
    ({"preferredLockerType": "small", "widthInches": 1, "heightInches": 20,
      "lengthInches": 1}, "ITEM_DOES_NOT_FIT_LOCKER_TYPE"),
])
def test_requests_no_site_could_satisfy_are_400(client: TestClient, body: dict,
                                                code: str) -> None:
    r = create(client, "bad", **body)
    assert r.status_code == 400 and r.json()["error"] == code
    assert client.get("/transactions/bad").status_code == 404  # nothing half-written


@pytest.mark.parametrize("body", [
    {},
    {"transactionId": ""},
    {"transactionId": "has space"},
    {"transactionId": "a/b"},
    {"transactionId": "x" * 129},
    {"transactionId": 12},
    {"transactionId": "x", "widthInches": -1, "heightInches": 1, "lengthInches": 1},
    {"transactionId": "x", "widthInches": 0, "heightInches": 1, "lengthInches": 1},
    {"transactionId": "x", "widthInches": 1e9, "heightInches": 1, "lengthInches": 1},
    {"transactionId": "x", "widthInches": "18", "heightInches": 1, "lengthInches": 1},
    {"transactionId": "x", "widthInches": 5},
    {"transactionId": "x", "allowFallback": "yes"},
    {"transactionId": "x", "matchingStrategy": "sideways"},
    {"transactionId": "x", "preferredAttributes": "low"},
    {"transactionId": "x", "preferredAttributes": [""]},
    {"transactionId": "x", "preferredLockerType": "m" * 1000},
    [1, 2],
])
def test_bad_input_is_400_validation_error(client: TestClient, body: object) -> None:
    r = client.post("/transactions", json=body)
    assert r.status_code == 400, r.text
    err = r.json()
    assert err["error"] == "VALIDATION_ERROR" and err["message"] and err["timestamp"]
    assert client.get("/transactions", params={"status": "all"}).json() == []


def test_malformed_json_is_400(client: TestClient) -> None:
    r = client.post("/transactions", content=b'{"transactionId": ',
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"] == "VALIDATION_ERROR"
    assert "JSON" in r.json()["message"]


def test_list_filters_and_pagination(any_client: TestClient) -> None:
    for i in range(5):
        create(any_client, f"t{i}")
    any_client.delete("/transactions/t0")
    active = any_client.get("/transactions", params={"limit": 2, "offset": 1})
    assert active.status_code == 200
    assert active.headers["X-Total-Count"] == "4"
    assert [t["transactionId"] for t in active.json()] == ["t2", "t3"]
    every = any_client.get("/transactions", params={"status": "all"}).json()
    assert len(every) == 5
    released = any_client.get("/transactions", params={"status": "released"}).json()
    assert [t["transactionId"] for t in released] == ["t0"]
    one = any_client.get("/transactions", params={"lockerId": every[1]["lockerId"]}).json()
    assert [t["transactionId"] for t in one] == ["t1"]
    assert any_client.get("/transactions", params={"limit": 0}).status_code == 400
    assert any_client.get("/transactions", params={"status": "odd"}).status_code == 400


def test_open_by_transaction_ignores_service_flags(client: TestClient) -> None:
    locker_id = create(client, "o1").json()["lockerId"]
    client.patch(f"/lockers/{locker_id}", json={"outOfService": True,
                                                "reasonCode": "BROKEN_LOCK"})
    r = client.post("/transactions/o1/open")
    assert r.status_code == 200
    assert r.json() == {"success": True, "lockerId": locker_id, "doorOpen": True,
                        "message": "Locker opened", "reasonCode": None}
    assert client.get("/transactions/o1").json()["active"] is True  # open does not release
    client.delete("/transactions/o1")
    gone = client.post("/transactions/o1/open")
    assert gone.status_code == 409 and gone.json()["error"] == "TRANSACTION_RELEASED"


def test_every_change_is_logged(client: TestClient) -> None:
    create(client, "log-1")
    client.post("/transactions/log-1/open")
    client.delete("/transactions/log-1")
    events = [e["event"] for e in client.get(
        "/system/logs", params={"transactionId": "log-1"}).json()]
    assert events[::-1][:1] == ["TRANSACTION_CREATED"]
    assert "LOCKER_OPENED" in events and events[0] == "TRANSACTION_RELEASED"


def test_logs_read_in_the_order_things_happened(client: TestClient) -> None:
    """The audit subscriber writes a door entry after the fact: its time, not its id, places it."""
    store = client.app.state.service.log
    later = datetime.now(UTC) + timedelta(hours=1)
    store.log("info", "LATER", "written first", timestamp=later)
    store.log("info", "EARLIER", "written afterwards", timestamp=later - timedelta(seconds=1))
    events = [e["event"] for e in client.get("/system/logs", params={"limit": 2}).json()]
    assert events == ["LATER", "EARLIER"]


def test_database_refuses_a_second_open_transaction_on_a_locker(any_client: TestClient) -> None:
    """Even if the held flag lied, the unique index stops a double assignment: 503."""
    for i in range(36):
        assert create(any_client, f"full-{i}").status_code == 201
    db = any_client.app.state.service.db
    with db.write() as conn:  # corrupt the flag of locker 1, which is held by full-0
        conn.execute(text("UPDATE lockers SET held = false WHERE id = 1"))
    r = create(any_client, "intruder")
    assert r.status_code == 503
    assert r.json()["error"] == "LOCKER_ASSIGNMENT_CONFLICT" and r.headers["Retry-After"]
    assert any_client.get("/transactions/full-0").json()["lockerId"] == 1
    assert any_client.get("/transactions/intruder").status_code == 404


def test_create_and_release_never_move_a_door(client: TestClient) -> None:
    controllers = client.app.state.service.controllers
    create(client, "quiet")
    client.delete("/transactions/quiet")
    assert all(c.unlocks == [] for c in controllers.values())
    create(client, "loud")
    client.post("/transactions/loud/open")
    assert sum(len(c.unlocks) for c in controllers.values()) == 1
