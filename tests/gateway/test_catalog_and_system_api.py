"""Locker types, bank types, system information, heartbeats, logs, health, OpenAPI, errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from tests.gateway.conftest import AUTH

SEED_SCHEMAS = {
    "Locker", "LockerTypeSummary", "TransactionResponse", "LockerType", "LockController",
    "System", "LockerConfig", "LogEntry", "OperationResponse", "LockerOperationResponse",
    "MultiStatusOperationResponse", "BankType", "OpenAllLockersResponse", "BankTypeAssociation",
    "Error", "BankTypeWithAssociations", "DeviceHeartbeatRequest",
}


def test_locker_types(client: TestClient) -> None:
    types = client.get("/locker-types").json()
    assert [t["slug"] for t in types] == ["small", "medium", "large"]
    medium = client.get("/locker-types/2").json()
    assert medium == medium | {"lockerTypeId": 2, "slug": "medium", "name": "Medium",
                               "widthInches": 16, "heightInches": 16, "depthInches": 20,
                               "lockerCount": 13}
    assert client.get("/locker-types/9").json()["error"] == "LOCKER_TYPE_NOT_FOUND"


def test_bank_types(client: TestClient) -> None:
    listed = client.get("/bank-types").json()
    assert [b["friendlyName"] for b in listed] == ["DM Main", "DM Large"]
    assert "associations" not in listed[0]
    bt = client.get("/bank-types/1").json()
    assert {"bankTypeId", "friendlyName", "description", "isDebug", "lockerCount",
            "createdAt", "associations"} <= set(bt)
    assert bt["lockerCount"] == 24 and bt["isDebug"] is False
    assert bt["associations"][0]["bankLockerNumber"] == 1
    assert bt["associations"][0]["lockerType"]["slug"] == "small"
    assert client.get("/bank-types/7").status_code == 404


def test_heartbeat_and_system(client: TestClient) -> None:
    hb = {"deviceId": "kiosk-1", "deviceType": "kiosk", "status": "ok", "version": "2.1",
          "details": {"screen": "on"}}
    r = client.post("/system/heartbeat", json=hb)
    assert r.status_code == 200 and r.json()["success"] is True
    client.post("/system/heartbeat", json=hb | {"status": "degraded"})
    system = client.get("/system").json()
    assert system["version"] and system["hostname"] and system["uptimeSeconds"] >= 0
    assert any(n["addresses"] for n in system["network"])
    (device,) = system["devices"]
    assert device["deviceId"] == "kiosk-1" and device["status"] == "degraded"
    assert device["heartbeatCount"] == 2 and device["details"] == {"screen": "on"}
    assert [c["controllerId"] for c in system["controllers"]] == ["bank-a", "bank-b", "bank-c"]
    assert system["controllers"][0]["lockerCount"] == 12
    for bad in ({"deviceType": "kiosk"}, hb | {"status": "sleepy"},
                hb | {"details": {"x": "y" * 5000}}):
        r = client.post("/system/heartbeat", json=bad)
        assert r.status_code == 400 and r.json()["error"] == "VALIDATION_ERROR"


def test_logs_filter_and_page(client: TestClient) -> None:
    for i in range(3):
        client.post("/transactions", json={"transactionId": f"l{i}"})
    client.patch("/lockers/5", json={"outOfService": True})
    all_logs = client.get("/system/logs")
    assert int(all_logs.headers["X-Total-Count"]) >= 5
    entry = all_logs.json()[0]
    assert set(entry) == {"id", "level", "event", "message", "lockerId", "transactionId",
                          "timestamp", "details"}
    warnings = client.get("/system/logs", params={"level": "warning"}).json()
    assert [e["event"] for e in warnings] == ["LOCKER_OUT_OF_SERVICE"]
    page = client.get("/system/logs", params={"limit": 2, "offset": 1}).json()
    assert [e["id"] for e in page] == [e["id"] for e in all_logs.json()[1:3]]
    since = client.get("/system/logs", params={"since": entry["timestamp"]}).json()
    assert entry["id"] in [e["id"] for e in since]
    until = client.get("/system/logs", params={"until": "2000-01-01T00:00:00Z"}).json()
    assert until == []
    # the same instant written with another offset selects the same entries
    stamp = datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00"))
    shifted = stamp.astimezone(timezone(timedelta(hours=2))).isoformat()
    assert [e["id"] for e in client.get("/system/logs", params={"since": shifted}).json()] == \
        [e["id"] for e in since]
    assert client.get("/system/logs", params={"level": "loud"}).status_code == 400


def test_health_needs_no_key_and_checks_the_database(client: TestClient) -> None:
    r = client.get("/health", headers={"X-API-Key": ""})
    assert r.status_code == 200
    assert r.json() | {"uptimeSeconds": 0} == {
        "status": "ok", "database": "ok", "controllers": {"online": 3, "offline": 0},
        "version": r.json()["version"], "uptimeSeconds": 0}
    client.app.state.service.db.engine.dispose()
    client.app.state.service.db.ping = lambda: False  # the database has gone away
    assert client.get("/health").status_code == 503


def test_every_api_needs_the_key(gateway_factory: Callable[..., TestClient],
                                 sqlite_url: str) -> None:
    # 36 wrong keys from one address: above the default budget (tests/gateway/test_failure_limits)
    client = gateway_factory(sqlite_url, key_failures_per_address="100/minute")
    client.headers.update(AUTH)
    paths = [("GET", "/transactions"), ("POST", "/transactions"), ("GET", "/transactions/x"),
             ("DELETE", "/transactions/x"), ("POST", "/transactions/x/open"),
             ("GET", "/lockers"), ("GET", "/lockers/1"), ("GET", "/lockers/1/config"),
             ("PATCH", "/lockers/1"), ("POST", "/lockers/1/open"),
             ("POST", "/lockers/open-all"), ("GET", "/locker-types"),
             ("GET", "/locker-types/1"), ("GET", "/bank-types"), ("GET", "/bank-types/1"),
             ("POST", "/system/heartbeat"), ("GET", "/system"), ("GET", "/system/logs")]
    for headers in ({"X-API-Key": ""}, {"X-API-Key": "wrong"},
                    {"X-API-Key": "", "Authorization": "Bearer wrong"}):
        for method, path in paths:
            r = client.request(method, path, headers=headers, content=b"{not json")
            assert r.status_code == 401, (method, path)
            assert r.json()["error"] == "UNAUTHORIZED"
    key = client.headers["X-API-Key"]
    bearer = client.get("/lockers/1", headers={"X-API-Key": "", "Authorization": f"Bearer {key}"})
    assert bearer.status_code == 200


def test_unknown_route_and_method_use_error_body(client: TestClient) -> None:
    r = client.get("/nowhere")
    assert r.status_code == 404 and r.json()["error"] == "NOT_FOUND"
    r = client.put("/lockers/1")
    assert r.status_code == 405 and r.json()["error"] == "METHOD_NOT_ALLOWED"


def test_openapi_names_every_seed_schema_and_uses_it(client: TestClient) -> None:
    doc = client.get("/openapi.json", headers={"X-API-Key": ""}).json()
    schemas = doc["components"]["schemas"]
    assert set(schemas) >= SEED_SCHEMAS
    text = str(doc["paths"])
    used = {name for name in SEED_SCHEMAS if f"#/components/schemas/{name}'" in text}
    nested = {"LockerTypeSummary", "BankTypeAssociation", "LockController"}  # inside others
    assert used | nested == SEED_SCHEMAS
    for name in nested:
        assert any(f"#/components/schemas/{name}'" in str(s) for s in schemas.values())
    assert "X-API-Key" in str(doc["components"]["securitySchemes"])
    assert {"/health", "/admin", "/transactions", "/transactions/{transaction_id}",
            "/transactions/{transaction_id}/open", "/lockers", "/lockers/open-all",
            "/lockers/{locker_id}", "/lockers/{locker_id}/config", "/lockers/{locker_id}/open",
            "/locker-types", "/locker-types/{locker_type_id}", "/bank-types",
            "/bank-types/{bank_type_id}", "/system", "/system/heartbeat",
            "/system/logs"} <= set(doc["paths"])


def test_database_outage_is_503_not_500(client: TestClient, tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = client.app.state.service.db
    (tmp_path / "not-a-dir").write_text("")
    working, db.engine = db.engine, create_engine(f"sqlite:///{tmp_path}/not-a-dir/x.db")
    try:
        for method, path in [("GET", "/lockers"), ("POST", "/transactions")]:
            r = client.request(method, path, json={"transactionId": "down"})
            assert r.status_code == 503, r.status_code
            assert r.json()["error"] == "DATABASE_UNAVAILABLE" and r.headers["Retry-After"]
    finally:
        db.engine = working
    assert client.get("/transactions/down").status_code == 404
