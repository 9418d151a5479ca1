"""The gateway's /metrics: behind the API key; requests by route, door openings, site gauges."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.gateway.conftest import AUTH


def samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = client.get("/metrics", headers=AUTH)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def test_metrics_need_the_api_key(client: TestClient) -> None:
    assert client.get("/metrics", headers={"X-API-Key": "wrong"}).status_code == 401


def test_requests_openings_controllers_and_transactions(any_client: TestClient) -> None:
    any_client.post("/transactions", json={"transactionId": "m-1"})
    for locker in (3, 4):
        assert any_client.post(f"/lockers/{locker}/open").json()["success"] is True
    found = samples(any_client)
    route = (("method", "POST"), ("route", "/lockers/{locker_id}/open"), ("status", "200"))
    assert found[("berth_gateway_http_request_duration_seconds_count", route)] == 2
    assert found[("berth_gateway_door_open_seconds_count", (("outcome", "OPENED"),))] == 2
    assert found[("berth_gateway_open_transactions", ())] == 1
    for controller in ("bank-a", "bank-b", "bank-c"):
        assert found[("berth_gateway_controller_online", (("controller", controller),))] == 1


def test_a_failed_opening_is_counted_by_its_reason(client: TestClient) -> None:
    client.app.state.service.controllers.pop("bank-a")  # as if its board never started
    assert client.post("/lockers/1/open").json()["reasonCode"] == "DRIVER_ERROR"
    found = samples(client)
    assert found[("berth_gateway_door_open_seconds_count", (("outcome", "DRIVER_ERROR"),))] == 1
