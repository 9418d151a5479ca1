"""/fleet/v1 end to end on a real broker: an organisation's calls reach its own site's gateway
and come back in the Gateway API's shapes; idempotency, waits, 202, offline, tenancy, limits."""

from __future__ import annotations

import threading
from pathlib import Path

from berth.gateway.site import load_site
from tests.cloud.fleet.conftest import Fleet
from tests.support.fleet import gated
from tests.support.waiting import wait_until

CREATE = {"transactionId": "parcel-1", "preferredLockerType": "small"}


def _loc(fleet: Fleet, site: str = "depot-1") -> str:
    return f"/fleet/v1/locations/{fleet.locations[site]}"


def test_an_organisation_creates_and_opens_a_transaction_at_its_site(
        fleet: Fleet, tmp_path: Path) -> None:
    gw = fleet.gateway("depot-1", f"sqlite:///{tmp_path / 'gw1.db'}")
    listed = fleet.cloud.get("/fleet/v1/locations", headers=fleet.headers())
    assert listed.json() == [{"locationId": fleet.locations["depot-1"], "siteId": "depot-1",
                              "online": True, "presenceAt": listed.json()[0]["presenceAt"]}]
    created = fleet.cloud.post(_loc(fleet) + "/transactions", json=CREATE,
                               headers=fleet.headers(**{"Idempotency-Key": "k-create"}))
    assert created.status_code == 201, created.text
    assert created.json() == gw.get("/transactions/parcel-1").json()
    opened = fleet.cloud.post(_loc(fleet) + "/transactions/parcel-1/open",
                              headers=fleet.headers(**{"Idempotency-Key": "k-open"}))
    assert opened.status_code == 200 and opened.json()["success"] is True, opened.text
    lockers = fleet.cloud.get(_loc(fleet) + "/lockers", params={"limit": 3},
                              headers=fleet.headers())
    assert lockers.json() == gw.get("/lockers", params={"limit": 3}).json()
    assert lockers.headers["x-total-count"] == gw.get("/lockers").headers["x-total-count"]
    for path in ("/locker-types", "/bank-types", "/system", "/transactions/parcel-1"):
        assert fleet.cloud.get(_loc(fleet) + path, headers=fleet.headers()).status_code == 200


def test_a_retry_with_the_same_key_returns_the_first_response(
        fleet: Fleet, tmp_path: Path) -> None:
    gw = fleet.gateway("depot-1", f"sqlite:///{tmp_path / 'gw1.db'}")
    headers = fleet.headers(**{"Idempotency-Key": "same"})
    first = fleet.cloud.post(_loc(fleet) + "/transactions", json=CREATE, headers=headers)
    again = fleet.cloud.post(_loc(fleet) + "/transactions", json=CREATE, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)  # not the gateway's 409
    assert first.json() == again.json()
    assert first.headers["x-fleet-request-id"] == again.headers["x-fleet-request-id"]
    other = fleet.cloud.post(_loc(fleet) + "/transactions", headers=headers,
                             json=CREATE | {"transactionId": "parcel-2"})
    assert other.status_code == 409 and other.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    missing = fleet.cloud.post(_loc(fleet) + "/transactions", json=CREATE,
                               headers=fleet.headers())
    assert missing.status_code == 400 and missing.json()["code"] == "IDEMPOTENCY_KEY_REQUIRED"
    assert gw.get("/transactions/parcel-2").status_code == 404


def test_another_organisations_location_is_not_found(fleet: Fleet, tmp_path: Path) -> None:
    fleet.gateway("depot-2", f"sqlite:///{tmp_path / 'gw2.db'}")
    for method, path in (("GET", "/lockers"), ("POST", "/lockers/open-all"),
                         ("POST", "/lockers/1/open")):
        r = fleet.cloud.request(method, _loc(fleet, "depot-2") + path,
                                headers=fleet.headers("acme", **{"Idempotency-Key": "x"}))
        assert r.status_code == 404 and r.json()["code"] == "LOCATION_NOT_FOUND", r.text
    r = fleet.cloud.get(_loc(fleet, "depot-2") + "/lockers", headers=fleet.headers("globex"))
    assert r.status_code == 200
    request_id = r.headers["x-fleet-request-id"]
    assert fleet.cloud.get(f"/fleet/v1/requests/{request_id}",
                           headers=fleet.headers("acme")).status_code == 404
    mine = fleet.cloud.get(f"/fleet/v1/requests/{request_id}", headers=fleet.headers("globex"))
    assert mine.json()["state"] == "done" and mine.json()["status"] == 200


def test_an_offline_site_is_refused_at_once_and_nothing_is_queued(
        fleet: Fleet, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'gw1.db'}"
    gw = fleet.gateway("depot-1", db)
    gw.__exit__(None, None, None)
    fleet.wait_online("depot-1", False)
    r = fleet.cloud.post(_loc(fleet) + "/lockers/1/open",
                         headers=fleet.headers(**{"Idempotency-Key": "late-door"}))
    assert r.status_code == 503 and r.json()["code"] == "SITE_OFFLINE"
    assert int(r.headers["retry-after"]) > 0
    gw = fleet.gateway("depot-1", db)
    logs = gw.get("/system/logs", params={"lockerId": 1}).json()
    assert not [e for e in logs if e["event"].startswith("LOCKER_OPEN")]  # never opened late


def test_respond_async_answers_202_and_the_request_can_be_polled(
        fleet: Fleet, tmp_path: Path) -> None:
    fleet.gateway("depot-1", f"sqlite:///{tmp_path / 'gw1.db'}")
    r = fleet.cloud.get(_loc(fleet) + "/lockers",
                        headers=fleet.headers(Prefer="respond-async"))
    assert r.status_code == 202
    location = r.headers["location"]
    assert location == f"/fleet/v1/requests/{r.json()['id']}"
    wait_until(lambda: fleet.service.fleet.request_view(
        fleet.service.fleet.authenticate(fleet.keys["acme"]), r.json()["id"])["state"] == "done",
        "the request never completed")
    polled = fleet.cloud.get(location, headers=fleet.headers()).json()
    assert polled["state"] == "done" and polled["status"] == 200 and polled["body"]


def test_keys_are_required_and_checked(fleet: Fleet) -> None:
    for headers in ({}, {"X-API-Key": "bfk_000000000000_" + "a" * 43},
                    {"Authorization": "Bearer nonsense"}):
        r = fleet.cloud.get("/fleet/v1/locations", headers=headers)
        assert r.status_code == 401 and r.json()["code"] == "UNAUTHORIZED"
    bearer = {"Authorization": f"Bearer {fleet.keys['acme']}"}
    assert fleet.cloud.get("/fleet/v1/locations", headers=bearer).status_code == 200


def test_rate_limit_headers_on_every_answer_and_429_past_the_limit(fleet: Fleet) -> None:
    first = fleet.cloud.get("/fleet/v1/locations", headers=fleet.headers())
    assert first.headers["x-ratelimit-limit"] == "120"
    remaining = int(first.headers["x-ratelimit-remaining"])
    assert 0 < int(first.headers["x-ratelimit-reset"]) <= 60
    missing = fleet.cloud.get("/fleet/v1/requests/nope", headers=fleet.headers())
    assert missing.status_code == 404
    assert int(missing.headers["x-ratelimit-remaining"]) == remaining - 1
    for _ in range(remaining - 1):
        fleet.cloud.get("/fleet/v1/locations", headers=fleet.headers())
    refused = fleet.cloud.get("/fleet/v1/locations", headers=fleet.headers())
    assert refused.status_code == 429 and refused.json()["code"] == "RATE_LIMITED"
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["x-ratelimit-remaining"] == "0"
    other = fleet.cloud.get("/fleet/v1/locations", headers=fleet.headers("globex"))
    assert other.status_code == 200  # per key


def test_wrong_keys_from_one_address_are_limited(fleet: Fleet) -> None:
    wrong = {"X-API-Key": "bfk_000000000000_" + "b" * 43}
    for _ in range(30):  # BERTH_CLOUD_LOGIN_FAILURES_PER_ADDRESS: 30/minute
        assert fleet.cloud.get("/fleet/v1/locations", headers=wrong).status_code == 401
    refused = fleet.cloud.get("/fleet/v1/locations", headers=fleet.headers())
    assert refused.status_code == 429 and refused.json()["code"] == "TOO_MANY_ATTEMPTS"
    assert int(refused.headers["retry-after"]) >= 1


def test_a_door_slower_than_prefer_wait_answers_202_then_completes(
        fleet: Fleet, tmp_path: Path) -> None:
    gate = threading.Event()
    site = load_site()
    controllers = gated(site, gate)
    fleet.gateway("depot-1", f"sqlite:///{tmp_path / 'gw1.db'}", site=site,
                  controllers=controllers)
    r = fleet.cloud.post(_loc(fleet) + "/lockers/3/open",
                         headers=fleet.headers(Prefer="wait=1", **{"Idempotency-Key": "slow"}))
    assert r.status_code == 202 and r.headers["location"].endswith(r.json()["id"])
    assert r.json()["state"] == "pending"
    again = fleet.cloud.post(_loc(fleet) + "/lockers/3/open",
                             headers=fleet.headers(Prefer="respond-async",
                                                   **{"Idempotency-Key": "slow"}))
    assert again.status_code == 202 and again.json()["id"] == r.json()["id"]  # same request
    gate.set()
    wait_until(lambda: fleet.cloud.get(r.headers["location"], headers=fleet.headers())
               .json()["state"] == "done", "the slow door never finished", every=0.5)
    assert sum(len(c.unlocks) for c in controllers.values()) == 1
