"""A partner sees only its towers: everything else is 404, never someone else's data."""

from __future__ import annotations

import pytest

from tests.cloud.conftest import Cloud

TOKEN_BODY = {"client_info": "", "duration": 600}


@pytest.fixture
def held(cloud: Cloud) -> dict[str, object]:
    """Partner demo reserves one locker and rents another."""
    h = cloud.headers()
    ids = cloud.locker_ids()
    res = cloud.http.post(
        f"{cloud.lockers_url()}/{ids[0]}/reservations", json={"duration": 300}, headers=h
    ).json()
    cloud.http.post(
        f"{cloud.lockers_url()}/{ids[1]}/dropoff-locker-tokens", json=TOKEN_BODY, headers=h
    )
    return {"reservation": res["id"], "reserved": ids[0], "rented": ids[1]}


def assert_404(
    cloud: Cloud,
    method: str,
    path: str,
    *,
    json: object = None,
    scope: str = "service_provider",
    code: str = "TOWER_NOT_FOUND",
) -> None:
    r = cloud.http.request(method, path, json=json, headers=cloud.headers("other", scope))
    assert r.status_code == 404, (path, r.text)
    assert r.json()["code"] == code


def test_other_partner_sees_no_towers(cloud: Cloud) -> None:
    assert cloud.http.get("/api/v1/towers", headers=cloud.headers("other")).json() == []
    towers = cloud.http.get("/api/v1/towers", headers=cloud.headers()).json()
    assert [t["id"] for t in towers] == [cloud.tower_id]


def test_other_partner_gets_404_everywhere(cloud: Cloud, held: dict[str, object]) -> None:
    t, base = cloud.tower_id, cloud.lockers_url()
    assert_404(cloud, "GET", f"/api/v1/towers/{t}")
    assert_404(cloud, "GET", base)
    assert_404(cloud, "GET", f"{base}/{held['reserved']}")
    assert_404(cloud, "POST", f"{base}/{held['rented']}/reservations", json={"duration": 300})
    assert_404(cloud, "DELETE", f"{base}/{held['reserved']}/reservations/{held['reservation']}")
    assert_404(cloud, "POST", f"{base}/{held['reserved']}/dropoff-locker-tokens", json=TOKEN_BODY)
    assert_404(cloud, "POST", f"{base}/{held['rented']}/pickup-locker-tokens", json=TOKEN_BODY)
    assert_404(cloud, "POST", f"{base}/{held['rented']}/release-locker")
    assert_404(cloud, "GET", f"/sdk/v1/towers/{t}/commands", scope="tower_access")
    assert_404(
        cloud,
        "POST",
        f"/sdk/v1/towers/{t}/events",
        scope="tower_access",
        json={"events": [cloud.event("boot")]},
    )
    assert (
        cloud.http.get("/api/v1/users/me/assigned-lockers", headers=cloud.headers("other")).json()
        == []
    )
    # and nothing changed for the owner
    assert cloud.state(held["reserved"]) == "reserved"  # type: ignore[arg-type]
    assert cloud.state(held["rented"]) == "rented"  # type: ignore[arg-type]


def test_unknown_tower_and_locker_are_404(cloud: Cloud) -> None:
    h = cloud.headers()
    r = cloud.http.get("/api/v1/towers/ffffffffffffffff/lockers", headers=h)
    assert r.status_code == 404 and r.json()["code"] == "TOWER_NOT_FOUND"
    r = cloud.http.get(f"{cloud.lockers_url()}/999999", headers=h)
    assert r.status_code == 404 and r.json()["code"] == "LOCKER_NOT_FOUND"
    r = cloud.http.delete(
        f"{cloud.lockers_url()}/{cloud.locker_ids()[0]}/reservations/nope", headers=h
    )
    assert r.status_code == 404


def test_locker_of_another_tower_is_404_through_my_tower(cloud: Cloud) -> None:
    op = cloud.headers("operator", "operator")
    other_tower = cloud.http.post("/api/v1/admin/towers", json={"name": "B"}, headers=op).json()
    lk = cloud.http.post(
        f"/api/v1/admin/towers/{other_tower['id']}/lockers",
        json={"lockers": [{"name": "1"}]},
        headers=op,
    ).json()[0]
    r = cloud.http.get(f"{cloud.lockers_url()}/{lk['id']}", headers=cloud.headers())
    assert r.status_code == 404 and r.json()["code"] == "LOCKER_NOT_FOUND"


def test_shared_tower_guards_the_holder(cloud: Cloud) -> None:
    """When a tower is assigned to two partners, a held locker refuses the other with 409."""
    op = cloud.headers("operator", "operator")
    other_id = cloud.service.partners.partner_id("other")
    r = cloud.http.put(f"/api/v1/admin/towers/{cloud.tower_id}/partners/{other_id}", headers=op)
    assert r.status_code == 204
    ids = cloud.locker_ids()
    url = f"{cloud.lockers_url()}/{ids[0]}"
    res = cloud.http.post(f"{url}/reservations", json={"duration": 300}, headers=cloud.headers())
    r = cloud.http.post(
        f"{url}/dropoff-locker-tokens", json=TOKEN_BODY, headers=cloud.headers("other")
    )
    assert r.status_code == 409
    assert r.json()["code"] == "LOCKER_RESERVED_FOR_ANOTHER_CANNOT_CREATE_DROPOFF_TOKEN"
    r = cloud.http.delete(f"{url}/reservations/{res.json()['id']}", headers=cloud.headers("other"))
    assert r.status_code == 404  # the reservation is not theirs to see
    assert (
        cloud.http.get("/api/v1/users/me/assigned-lockers", headers=cloud.headers("other")).json()
        == []
    )
