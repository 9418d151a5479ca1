"""Dwell time on both engines: the location's drop-off window bounds reservations and drop-off
tokens, its collection window gives a landed parcel a deadline, the sweeper (on the fake clock)
reports a parcel past it once, to its holder only, and the holder may then issue a return
token; drop-off tokens that ran out unused and the operator's out-of-service switch are named
events too."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.cloud.conftest import Cloud, make_cloud, wait_until
from tests.support.partner_events import partner_events

WINDOWS = {"dropoff_window": 600, "collection_window": 3600}


@pytest.fixture
def cloud(db_url: str, tmp_path: Path) -> Iterator[Cloud]:
    """The demo cloud with its sweeper running often (moved on by the fake clock), the demo
    tower shared with the partner "other" and its location given both windows."""
    for cl in make_cloud(db_url, tmp_path / "data", sweep_interval=0.02,
                         access_token_ttl=10**8):  # the clock moves days
        cl.service.towers.assign_tower(cl.tower_id, cl.service.partners.partner_id("other"))
        r = cl.http.patch(location_url(cl), json=WINDOWS, headers=operator(cl))
        assert r.status_code == 200, r.text
        yield cl


def operator(cloud: Cloud) -> dict[str, str]:
    return cloud.headers("operator", "operator")


def location_url(cloud: Cloud) -> str:
    return f"/api/v1/admin/locations/{cloud.seed['location_ids'][0]}"


def post(cloud: Cloud, lid: int, what: str, body: dict[str, Any], who: str = "demo") -> Any:
    return cloud.http.post(f"{cloud.lockers_url()}/{lid}/{what}", json=body,
                           headers=cloud.headers(who))


def lasts(cloud: Cloud, answer: dict[str, Any]) -> float:
    return (datetime.fromisoformat(answer["expires_at"]) - cloud.clock()).total_seconds()


def land(cloud: Cloud, lid: int) -> dict[str, Any]:
    """A drop-off token and the tower's report that it was used: the parcel is in."""
    drop = post(cloud, lid, "dropoff-locker-tokens", {"duration": 300}).json()
    r = cloud.post_events(cloud.event("dropoff_token_used", locker_id=lid,
                                      token_id=drop["token_id"]))
    assert r.json()["results"][0]["outcome"] == "applied"
    return drop


def test_operator_sets_the_windows_and_partners_see_them(cloud: Cloud) -> None:
    mine = cloud.http.get("/api/v1/locations/", headers=cloud.headers()).json()
    here = next(loc for loc in mine if loc["id"] == cloud.seed["location_ids"][0])
    assert (here["dropoff_window"], here["collection_window"]) == (600, 3600)
    r = cloud.http.patch(location_url(cloud), json={"collection_window": None},
                         headers=operator(cloud))
    assert r.json()["collection_window"] is None and r.json()["dropoff_window"] == 600
    assert cloud.http.patch(location_url(cloud), json={"dropoff_window": 0},
                            headers=operator(cloud)).status_code == 422
    assert cloud.http.patch("/api/v1/admin/locations/9999", json={},
                            headers=operator(cloud)).json()["code"] == "LOCATION_NOT_FOUND"
    assert cloud.http.patch(location_url(cloud), json={},
                            headers=cloud.headers()).status_code == 403


def test_the_dropoff_window_bounds_and_defaults_durations(cloud: Cloud) -> None:
    lk = cloud.locker_ids()
    assert lasts(cloud, post(cloud, lk[0], "reservations", {"duration": 3600}).json()) == 600
    assert lasts(cloud, post(cloud, lk[1], "reservations", {}).json()) == 600
    assert lasts(cloud, post(cloud, lk[2], "reservations", {"duration": 60}).json()) == 60
    assert lasts(cloud, post(cloud, lk[3], "dropoff-locker-tokens", {}).json()) == 600
    drop = post(cloud, lk[4], "dropoff-locker-tokens", {"duration": 86400}).json()
    assert lasts(cloud, drop) == 600
    held = {a["id"]: a for a in cloud.http.get("/api/v1/users/me/assigned-lockers",
                                               headers=cloud.headers()).json()}
    assert (datetime.fromisoformat(held[lk[4]]["heldUntil"])
            == datetime.fromisoformat(drop["expires_at"]))
    # a pick-up token is not bounded by the drop-off window, and needs a duration
    land(cloud, lk[5])
    r = post(cloud, lk[5], "pickup-locker-tokens", {})
    assert r.status_code == 400 and r.json()["code"] == "DURATION_REQUIRED"
    assert lasts(cloud, post(cloud, lk[5], "pickup-locker-tokens",
                             {"duration": 7200}).json()) == 7200


def test_a_parcel_not_collected_is_reported_once_to_its_holder_then_returned(
        cloud: Cloud) -> None:
    lid = cloud.locker_ids()[0]
    land(cloud, lid)
    landed = cloud.clock()
    held = {a["id"]: a for a in cloud.http.get("/api/v1/users/me/assigned-lockers",
                                               headers=cloud.headers()).json()}
    collect_by = datetime.fromisoformat(held[lid]["collectBy"])
    assert collect_by == landed + timedelta(seconds=3600)
    r = post(cloud, lid, "pickup-locker-tokens", {"duration": 600, "purpose": "return"})
    assert r.status_code == 409 and r.json()["code"] == "PARCEL_NOT_OVERDUE"

    cloud.clock.advance(3601)
    wait_until(lambda: partner_events(cloud, "demo", "parcel.not_collected"))
    cloud.service.sweep()  # and again: the parcel was reported already
    [event] = partner_events(cloud, "demo", "parcel.not_collected")
    assert event["locker_id"] == lid and event["tower_id"] == cloud.tower_id
    assert datetime.fromisoformat(event["data"]["collect_by"]) == collect_by
    assert partner_events(cloud, "other", "parcel.not_collected") == []
    assert cloud.state(lid) == "occupied"  # no new state: the guide's six stay

    r = post(cloud, lid, "pickup-locker-tokens", {"duration": 600, "purpose": "return"},
             who="other")
    assert r.json()["code"] == "LOCKER_OCCUPIED_FOR_ANOTHER_CANNOT_CREATE_PICKUP_TOKEN"
    r = post(cloud, lid, "dropoff-locker-tokens", {"duration": 600, "purpose": "return"})
    assert r.status_code == 400 and r.json()["code"] == "PURPOSE_INVALID"
    back = post(cloud, lid, "pickup-locker-tokens", {"duration": 600, "purpose": "return"})
    assert back.status_code == 201, back.text
    issued = partner_events(cloud, "demo", "token.issued")[-1]
    assert issued["data"]["purpose"] == "return"
    cloud.post_events(cloud.event("pickup_token_used", locker_id=lid,
                                  token_id=back.json()["token_id"]))
    assert cloud.state(lid) == "available"

    # the next parcel gets its own deadline and its own report
    land(cloud, lid)
    cloud.clock.advance(3601)
    wait_until(lambda: len(partner_events(cloud, "demo", "parcel.not_collected")) == 2)


def test_no_collection_window_no_deadline(cloud: Cloud) -> None:
    cloud.http.patch(location_url(cloud), json={"collection_window": None},
                     headers=operator(cloud))
    lid = cloud.locker_ids()[0]
    land(cloud, lid)
    held = {a["id"]: a for a in cloud.http.get("/api/v1/users/me/assigned-lockers",
                                               headers=cloud.headers()).json()}
    assert held[lid]["collectBy"] is None
    cloud.clock.advance(90 * 86400)
    cloud.service.sweep()
    assert partner_events(cloud, "demo", "parcel.not_collected") == []


def test_dropoff_tokens_that_ran_out_unused_are_reported_once_to_their_issuer(
        cloud: Cloud) -> None:
    lid = cloud.locker_ids()[0]
    first = post(cloud, lid, "dropoff-locker-tokens", {"duration": 60}).json()
    second = post(cloud, lid, "dropoff-locker-tokens", {"duration": 120}).json()
    cloud.clock.advance(121)
    wait_until(lambda: cloud.state(lid) == "available"
               and len(partner_events(cloud, "demo", "token.expired")) == 2)
    cloud.service.sweep()
    expired = partner_events(cloud, "demo", "token.expired")
    assert [e["data"]["token_id"] for e in expired] == [first["token_id"], second["token_id"]]
    assert {e["data"]["kind"] for e in expired} == {"dropoff"}
    assert partner_events(cloud, "other", "token.expired") == []
    # a token used in time is never reported expired
    used = land(cloud, lid)
    cloud.clock.advance(400)
    cloud.service.sweep()
    assert used["token_id"] not in {e["data"]["token_id"]
                                    for e in partner_events(cloud, "demo", "token.expired")}


def test_out_of_service_and_back_are_told_to_the_towers_partners(cloud: Cloud) -> None:
    lid = cloud.locker_ids()[0]
    url = f"/api/v1/admin/towers/{cloud.tower_id}/lockers/{lid}"
    for flag in (True, False):
        r = cloud.http.patch(url, json={"outOfService": flag}, headers=operator(cloud))
        assert r.status_code == 200, r.text
    for who in ("demo", "other"):
        named = [e["type"] for e in partner_events(cloud, who)
                 if e["type"].startswith("locker.") and e["type"] != "locker.state_changed"]
        assert named == ["locker.out_of_service", "locker.back_in_service"]


def test_a_reservation_that_ran_out_is_told_to_its_partner_only(cloud: Cloud) -> None:
    lid = cloud.locker_ids()[0]
    made = post(cloud, lid, "reservations", {"duration": 60}).json()
    cloud.clock.advance(61)
    wait_until(lambda: partner_events(cloud, "demo", "reservation.expired"))
    [expired] = partner_events(cloud, "demo", "reservation.expired")
    assert expired["data"] == {"reservation_id": made["id"], "status": "expired"}
    assert partner_events(cloud, "other", "reservation.expired") == []
