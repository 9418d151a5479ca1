"""Every request of the delivery guide, in order, as a new partner makes them."""

from __future__ import annotations

import pytest

from berth.domain.tokens import verify
from tests.cloud.conftest import Cloud, make_cloud


def run_guide(cloud: Cloud) -> None:
    h = cloud.headers()
    # Finding lockers in your tower: ALL lockers, shaped like the original.
    r = cloud.http.get(cloud.lockers_url(), headers={"accept": "application/json", **h})
    assert r.status_code == 200
    lockers = r.json()
    assert len(lockers) >= 12
    first = lockers[0]
    assert set(first) >= {"id", "name", "isLowLocker", "towerId", "status", "type", "accessMode"}
    assert first["status"] == {"id": 1, "name": "available"}
    assert first["towerId"] == cloud.tower_id
    assert {lk["type"]["name"] for lk in lockers} >= {"small", "medium", "large", "xlarge"}
    assert any(lk["isLowLocker"] for lk in lockers)
    locker_id = first["id"]
    base = f"{cloud.lockers_url()}/{locker_id}"

    # Reserving a locker for 300 s.
    r = cloud.http.post(f"{base}/reservations", json={"duration": 300}, headers=h)
    assert r.status_code == 201, r.text
    assert cloud.state(locker_id) == "reserved"

    # Drop-off token, exactly the guide's body.
    r = cloud.http.post(
        f"{base}/dropoff-locker-tokens", json={"client_info": "", "duration": 3000}, headers=h
    )
    assert r.status_code == 201, r.text
    drop = r.json()
    assert {"payload", "payload_auth", "token_id", "expires_at"} <= set(drop)
    assert cloud.state(locker_id) == "rented"

    # The tower accepts it offline with only public keys.
    keys = cloud.service.ctx.keyring.public_keys()
    now = cloud.clock().timestamp()
    assert (
        verify(drop["payload"], drop["payload_auth"], cloud.tower_id, now, keys, 0).locker_id
        == locker_id
    )

    # The user drops the item off; the tower's event reaches the cloud via the phone.
    r = cloud.post_events(
        cloud.event("dropoff_token_used", locker_id=locker_id, token_id=drop["token_id"])
    )
    assert r.json()["results"][0]["outcome"] == "applied"
    assert cloud.state(locker_id) == "occupied"

    # Assigned lockers show it.
    r = cloud.http.get("/api/v1/users/me/assigned-lockers", headers=h)
    assert [(lk["id"], lk["status"]["name"]) for lk in r.json()] == [(locker_id, "occupied")]

    # Picking up the item.
    r = cloud.http.post(
        f"{base}/pickup-locker-tokens", json={"client_info": "", "duration": 3000}, headers=h
    )
    assert r.status_code == 201, r.text
    pick = r.json()
    assert pick["kind"] == "pickup"
    r = cloud.post_events(
        cloud.event("pickup_token_used", locker_id=locker_id, token_id=pick["token_id"])
    )
    assert r.json()["results"][0]["outcome"] == "applied"

    # Back to Available, and the old tokens died with the generation bump.
    assert cloud.state(locker_id) == "available"
    assert cloud.http.get("/api/v1/users/me/assigned-lockers", headers=h).json() == []
    prov = cloud.service.towers.provisioning(cloud.tower_id)
    assert prov.generations[locker_id] == 1


def test_guide_on_sqlite(cloud: Cloud) -> None:
    run_guide(cloud)


def test_guide_on_postgres(postgres_url: str, tmp_path: pytest.TempPathFactory) -> None:
    for cloud in make_cloud(postgres_url, tmp_path / "data"):  # type: ignore[operator]
        run_guide(cloud)


def test_interactive_docs(cloud: Cloud) -> None:
    assert cloud.http.get("/docs").status_code == 200
    paths = cloud.http.get("/openapi.json").json()["paths"]
    assert "/api/v1/towers/{tower_id}/lockers/{locker_id}/dropoff-locker-tokens" in paths
