"""Tower sync: signed events applied once, forged ones refused, commands and their ack."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from berth.domain.tokens import TokenRefused, sign_event, verify
from tests.cloud.conftest import Cloud

TOKEN = {"client_info": "", "duration": 600}


def issue(cloud: Cloud, lid: int, what: str) -> dict[str, Any]:
    r = cloud.http.post(f"{cloud.lockers_url()}/{lid}/{what}", json=TOKEN, headers=cloud.headers())
    assert r.status_code == 201, r.text
    return r.json()


def test_replayed_events_apply_once(cloud: Cloud) -> None:
    lid = cloud.locker_ids()[0]
    drop = issue(cloud, lid, "dropoff-locker-tokens")
    used = cloud.event("dropoff_token_used", locker_id=lid, token_id=drop["token_id"])
    boot = cloud.event("boot")
    first = cloud.post_events(used, boot).json()["results"]
    assert [r["outcome"] for r in first] == ["applied", "recorded"]
    pick = issue(cloud, lid, "pickup-locker-tokens")
    cloud.post_events(cloud.event("pickup_token_used", locker_id=lid, token_id=pick["token_id"]))
    assert cloud.state(lid) == "available"
    # the phone relays the same log again: acknowledged, not re-applied (still available)
    again = cloud.post_events(used, boot).json()["results"]
    assert [r["outcome"] for r in again] == ["duplicate", "duplicate"]
    assert cloud.state(lid) == "available"


def test_forged_or_unsigned_batch_changes_nothing(cloud: Cloud) -> None:
    lid = cloud.locker_ids()[0]
    drop = issue(cloud, lid, "dropoff-locker-tokens")
    good = cloud.event("dropoff_token_used", locker_id=lid, token_id=drop["token_id"])
    body = {k: v for k, v in good.items() if k != "signature"}
    forged = sign_event({**body, "seq": 99}, Ed25519PrivateKey.generate())
    tampered = {**good, "locker_id": lid + 1}
    for bad in (forged, tampered, {**body, "signature": "00" * 64}):
        r = cloud.post_events(good, bad)
        assert r.status_code == 400
        assert r.json()["code"] == "EVENT_SIGNATURE"
    r = cloud.post_events(body)
    assert r.status_code == 422  # no signature at all
    assert cloud.state(lid) == "rented"
    assert cloud.post_events(good).json()["results"][0]["outcome"] == "applied"


def test_event_for_another_tower_is_refused(cloud: Cloud) -> None:
    ev = cloud.event("boot")
    ev = sign_event({**ev, "tower_id": "0000000000000000"}, cloud.tower_key())
    r = cloud.post_events(ev)
    assert r.status_code == 400 and r.json()["code"] == "EVENT_TOWER_MISMATCH"


def test_events_need_tower_access_scope(cloud: Cloud) -> None:
    r = cloud.http.post(
        f"/sdk/v1/towers/{cloud.tower_id}/events",
        json={"events": [cloud.event("boot")]},
        headers=cloud.headers(),
    )
    assert r.status_code == 403


def test_unknown_token_in_event_is_ignored(cloud: Cloud) -> None:
    lid = cloud.locker_ids()[0]
    r = cloud.post_events(cloud.event("dropoff_token_used", locker_id=lid, token_id="ab" * 16))
    assert r.json()["results"][0]["code"] == "TOKEN_NOT_FOUND"


def test_release_flow_bumps_generation_and_acks_command(cloud: Cloud) -> None:
    lid = cloud.locker_ids()[0]
    drop = issue(cloud, lid, "dropoff-locker-tokens")
    rel = cloud.http.post(
        f"{cloud.lockers_url()}/{lid}/release-locker", headers=cloud.headers()
    ).json()
    sdk = cloud.headers("demo", "tower_access")
    url = f"/sdk/v1/towers/{cloud.tower_id}/commands"
    assert [c["id"] for c in cloud.http.get(url, headers=sdk).json()["commands"]] == [
        rel["command_id"]
    ]
    assert (
        cloud.http.get(url, params={"after": rel["command_id"]}, headers=sdk).json()["commands"]
        == []
    )
    r = cloud.post_events(cloud.event("release_token_set", locker_id=lid, token_id=rel["token_id"]))
    assert r.json()["results"][0]["outcome"] == "applied"
    assert cloud.state(lid) == "available"
    assert cloud.http.get(url, headers=sdk).json()["commands"] == []  # acknowledged
    # the tower's generation moved on: the old drop-off token is dead offline
    keys = cloud.service.ctx.keyring.public_keys()
    gens = cloud.service.towers.provisioning(cloud.tower_id).generations
    now = cloud.clock().timestamp()
    try:
        verify(drop["payload"], drop["payload_auth"], cloud.tower_id, now, keys, gens)
    except TokenRefused as exc:
        assert exc.code == "TOKEN_GENERATION_STALE"
    else:
        raise AssertionError("a token older than the release was accepted")


def test_command_applied_event_acks_a_command(cloud: Cloud) -> None:
    lid = cloud.locker_ids()[0]
    issue(cloud, lid, "dropoff-locker-tokens")
    rel = cloud.http.post(
        f"{cloud.lockers_url()}/{lid}/release-locker", headers=cloud.headers()
    ).json()
    r = cloud.post_events(
        cloud.event("command_applied", command_id=rel["command_id"]),
        cloud.event("command_applied", command_id=12345),
    )
    assert [x["outcome"] for x in r.json()["results"]] == ["applied", "ignored"]
    url = f"/sdk/v1/towers/{cloud.tower_id}/commands"
    assert cloud.http.get(url, headers=cloud.headers("demo", "tower_access")).json() == {
        "commands": [], "waited": False
    }


def test_dropoff_after_release_withdraws_the_queued_release(cloud: Cloud) -> None:
    """Declined -> Occupied: the release command must not reach the tower any more."""
    lid = cloud.locker_ids()[0]
    drop = issue(cloud, lid, "dropoff-locker-tokens")
    cloud.http.post(f"{cloud.lockers_url()}/{lid}/release-locker", headers=cloud.headers())
    r = cloud.post_events(
        cloud.event("dropoff_token_used", locker_id=lid, token_id=drop["token_id"])
    )
    assert r.json()["results"][0]["outcome"] == "applied"
    assert cloud.state(lid) == "occupied"
    url = f"/sdk/v1/towers/{cloud.tower_id}/commands"
    assert cloud.http.get(url, headers=cloud.headers("demo", "tower_access")).json() == {
        "commands": [], "waited": False
    }


def test_a_batch_is_one_write_transaction(cloud: Cloud) -> None:
    """50 events, one BEGIN IMMEDIATE: a batch commits (and fsyncs) once, not once per event."""
    from sqlalchemy import event

    begins: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if statement.startswith("BEGIN IMMEDIATE"):
            begins.append(statement)

    batch = [cloud.event("boot") for _ in range(50)]
    event.listen(cloud.service.db.engine, "before_cursor_execute", count)
    try:
        results = cloud.post_events(*batch).json()["results"]
    finally:
        event.remove(cloud.service.db.engine, "before_cursor_execute", count)
    assert [r["outcome"] for r in results] == ["recorded"] * 50
    assert len(begins) == 1
    assert [r["outcome"] for r in cloud.post_events(batch[0], batch[0]).json()["results"]] == [
        "duplicate", "duplicate"]
