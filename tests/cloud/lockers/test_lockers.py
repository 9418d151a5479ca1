"""Locker states through the API: refusals, validation, out of service, expiry, the filter."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import select

from berth.cloud.lockers import repository as lockers_repo
from berth.cloud.tables import reservations
from tests.cloud.conftest import Cloud, make_cloud, wait_until

TOKEN = {"client_info": "", "duration": 600}


def post(cloud: Cloud, locker_id: int, what: str, body: object = None, who: str = "demo"):  # type: ignore[no-untyped-def]
    return cloud.http.post(
        f"{cloud.lockers_url()}/{locker_id}/{what}", json=body, headers=cloud.headers(who)
    )


@pytest.mark.parametrize(
    ("setup", "what", "body", "code"),
    [
        ([], "pickup-locker-tokens", TOKEN, "LOCKER_AVAILABLE_CANNOT_CREATE_PICKUP_TOKEN"),
        ([], "release-locker", None, "LOCKER_AVAILABLE_CANNOT_RELEASE_LOCKER"),
        (
            ["reservations"],
            "reservations",
            {"duration": 300},
            "LOCKER_RESERVED_CANNOT_CREATE_RESERVATION",
        ),
        (
            ["reservations"],
            "pickup-locker-tokens",
            TOKEN,
            "LOCKER_RESERVED_CANNOT_CREATE_PICKUP_TOKEN",
        ),
        (
            ["dropoff-locker-tokens"],
            "reservations",
            {"duration": 300},
            "LOCKER_RENTED_CANNOT_CREATE_RESERVATION",
        ),
        (
            ["dropoff-locker-tokens"],
            "pickup-locker-tokens",
            TOKEN,
            "LOCKER_RENTED_CANNOT_CREATE_PICKUP_TOKEN",
        ),
        (
            ["dropoff-locker-tokens", "release-locker"],
            "dropoff-locker-tokens",
            TOKEN,
            "LOCKER_DECLINED_CANNOT_CREATE_DROPOFF_TOKEN",
        ),
        (
            ["dropoff-locker-tokens", "release-locker"],
            "release-locker",
            None,
            "LOCKER_DECLINED_CANNOT_RELEASE_LOCKER",
        ),
    ],
)
def test_refusals_are_409_with_state_and_action(
    cloud: Cloud, setup: list[str], what: str, body: object, code: str
) -> None:
    lid = cloud.locker_ids()[0]
    bodies = {
        "reservations": {"duration": 300},
        "dropoff-locker-tokens": TOKEN,
        "release-locker": None,
    }
    for step in setup:
        assert post(cloud, lid, step, bodies[step]).status_code == 201
    before = cloud.state(lid)
    r = post(cloud, lid, what, body)
    assert r.status_code == 409
    assert r.json()["code"] == code
    assert cloud.state(lid) == before  # nothing half-written


def test_rented_takes_more_dropoff_tokens_and_release_declines(cloud: Cloud) -> None:
    lid = cloud.locker_ids()[0]
    assert post(cloud, lid, "dropoff-locker-tokens", TOKEN).status_code == 201
    assert post(cloud, lid, "dropoff-locker-tokens", TOKEN).status_code == 201
    assert cloud.state(lid) == "rented"
    r = post(cloud, lid, "release-locker")
    assert r.status_code == 201 and r.json()["kind"] == "release"
    assert cloud.state(lid) == "declined"
    cmds = cloud.http.get(
        f"/sdk/v1/towers/{cloud.tower_id}/commands", headers=cloud.headers("demo", "tower_access")
    ).json()["commands"]
    assert [(c["id"], c["token_id"]) for c in cmds] == [
        (r.json()["command_id"], r.json()["token_id"])
    ]


def test_cancel_reservation(cloud: Cloud) -> None:
    lid = cloud.locker_ids()[0]
    res = post(cloud, lid, "reservations", {"duration": 300}).json()
    url = f"{cloud.lockers_url()}/{lid}/reservations/{res['id']}"
    r = cloud.http.delete(url, headers=cloud.headers())
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert cloud.state(lid) == "available"
    r = cloud.http.delete(url, headers=cloud.headers())
    assert r.status_code == 409
    assert r.json()["code"] == "RESERVATION_CANCELLED_CANNOT_CANCEL_RESERVATION"


@pytest.mark.parametrize(
    ("what", "body"),
    [
        ("reservations", {"duration": 0}),
        ("reservations", {"duration": "soon"}),
        ("reservations", {"duration": None}),
        ("reservations", {"duration": 10**9}),
        ("dropoff-locker-tokens", {"client_info": "", "duration": -5}),
        ("dropoff-locker-tokens", {"client_info": 3}),
        ("dropoff-locker-tokens", None),
    ],
)
def test_bad_bodies_are_422_and_change_nothing(cloud: Cloud, what: str, body: object) -> None:
    lid = cloud.locker_ids()[0]
    r = post(cloud, lid, what, body)
    assert r.status_code == 422
    assert all({"loc", "msg", "type"} <= set(e) for e in r.json()["detail"])
    assert cloud.state(lid) == "available"


@pytest.mark.parametrize("what", ["reservations", "dropoff-locker-tokens",
                                  "pickup-locker-tokens"])
def test_no_duration_without_a_dropoff_window_is_400(cloud: Cloud, what: str) -> None:
    """Leaving the duration out asks for the location's drop-off window; the demo tower's
    location sets none (tests/cloud/lockers/test_dwell.py has one that does)."""
    lid = cloud.locker_ids()[0]
    r = post(cloud, lid, what, {})
    assert r.status_code == 400 and r.json()["code"] == "DURATION_REQUIRED", r.text
    assert cloud.state(lid) == "available"


def test_bad_tower_id_is_422(cloud: Cloud) -> None:
    r = cloud.http.get("/api/v1/towers/not-hex/lockers", headers=cloud.headers())
    assert r.status_code == 422


def test_status_filter(cloud: Cloud) -> None:
    ids = cloud.locker_ids()
    post(cloud, ids[0], "reservations", {"duration": 300})
    h = cloud.headers()
    everything = cloud.http.get(cloud.lockers_url(), headers=h).json()
    assert len(everything) == len(ids)
    avail = cloud.http.get(cloud.lockers_url(), params={"status": "available"}, headers=h).json()
    assert len(avail) == len(ids) - 1
    by_id = cloud.http.get(cloud.lockers_url(), params={"status": "2"}, headers=h).json()
    assert [lk["id"] for lk in by_id] == [ids[0]]
    r = cloud.http.get(cloud.lockers_url(), params={"status": "sleepy"}, headers=h)
    assert r.status_code == 400 and r.json()["code"] == "STATUS_UNKNOWN"


def test_out_of_service_by_operator(cloud: Cloud) -> None:
    ids = cloud.locker_ids()
    op = cloud.headers("operator", "operator")
    url = f"/api/v1/admin/towers/{cloud.tower_id}/lockers/{ids[0]}"
    r = cloud.http.patch(url, json={"outOfService": True}, headers=op)
    assert r.status_code == 200 and r.json()["status"] == {"id": 6, "name": "out_of_service"}
    r = post(cloud, ids[0], "reservations", {"duration": 300})
    assert r.json()["code"] == "LOCKER_OUT_OF_SERVICE_CANNOT_CREATE_RESERVATION"
    assert cloud.http.patch(url, json={"outOfService": False}, headers=op).status_code == 200
    post(cloud, ids[0], "reservations", {"duration": 300})
    r = cloud.http.patch(url, json={"outOfService": True}, headers=op)
    assert r.json()["code"] == "LOCKER_RESERVED_CANNOT_SET_OUT_OF_SERVICE"
    assert (
        cloud.http.patch(url, json={"outOfService": True}, headers=cloud.headers()).status_code
        == 403
    )


def test_provisioning_is_operator_only_and_carries_the_tower_key(cloud: Cloud) -> None:
    url = f"/api/v1/admin/towers/{cloud.tower_id}/provisioning"
    assert cloud.http.get(url, headers=cloud.headers()).status_code == 403
    body = cloud.http.get(url, headers=cloud.headers("operator", "operator")).json()
    assert len(bytes.fromhex(body["tower_private_key"])) == 32
    assert set(body["cloud_public_keys"]) == {"k1"}


# ---- expiry ---------------------------------------------------------------------------------


def test_reservation_expires_on_read_before_any_sweep(cloud: Cloud) -> None:
    lid = cloud.locker_ids()[0]
    post(cloud, lid, "reservations", {"duration": 300})
    cloud.clock.advance(299)
    assert cloud.state(lid) == "reserved"
    cloud.clock.advance(1)
    cloud._tokens.clear()  # our access token is older than the clock jump allows
    assert cloud.state(lid) == "available"
    # a write applies it for real: someone can reserve again, the old one is marked expired
    assert post(cloud, lid, "reservations", {"duration": 300}).status_code == 201
    with cloud.service.db.read() as conn:
        statuses = sorted(conn.execute(select(reservations.c.status)).scalars())
    assert statuses == ["active", "expired"]


def test_sweeper_expires_reservations_and_unused_dropoff_tokens(cloud: Cloud) -> None:
    ids = cloud.locker_ids()
    post(cloud, ids[0], "reservations", {"duration": 300})
    post(cloud, ids[1], "dropoff-locker-tokens", {"client_info": "", "duration": 200})
    post(cloud, ids[1], "dropoff-locker-tokens", {"client_info": "", "duration": 500})
    assert cloud.service.lockers.sweep() == 0
    cloud.clock.advance(300)
    assert cloud.service.lockers.sweep() == 1  # the reservation; the rental lasts to its last token
    cloud.clock.advance(200)
    assert cloud.service.lockers.sweep() == 1
    with cloud.service.db.read() as conn:
        states = {r["id"]: r["state"] for r in lockers_repo.tower_lockers(conn, cloud.tower_id)}
    assert states[ids[0]] == states[ids[1]] == 1


def test_expired_dropoff_token_used_later_is_ignored(cloud: Cloud) -> None:
    lid = cloud.locker_ids()[0]
    tok = post(cloud, lid, "dropoff-locker-tokens", {"client_info": "", "duration": 60}).json()
    cloud.clock.advance(61)
    cloud._tokens.clear()
    cloud.service.lockers.sweep()
    r = cloud.post_events(
        cloud.event("dropoff_token_used", locker_id=lid, token_id=tok["token_id"])
    )
    assert r.json()["results"][0] == {
        "seq": 1,
        "outcome": "ignored",
        "code": "LOCKER_AVAILABLE_CANNOT_DROPOFF_TOKEN_USED",
    }


def test_background_sweeper_runs_in_the_app(tmp_path: Path) -> None:
    """The lifespan task records expiries in the database without any request touching them."""
    clouds = make_cloud(f"sqlite:///{tmp_path / 'c.db'}", tmp_path / "data", sweep_interval=0.05)
    c = next(clouds)
    lid = c.locker_ids()[0]
    post(c, lid, "reservations", {"duration": 300})

    def stored_state() -> int:
        with c.service.db.read() as conn:
            row = lockers_repo.locker(conn, lid)
        assert row is not None
        return row["state"]

    time.sleep(0.2)
    assert stored_state() == 2  # not due yet: the sweeper leaves it
    c.clock.advance(300)
    wait_until(lambda: stored_state() == 1)
    clouds.close()
