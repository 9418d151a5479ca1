"""Named outcomes of what a tower reports, on both engines: a forced door, a jammed one, a token
refused with the verifier's code, each once and only to who should know; a tower silent for
BERTH_CLOUD_TOWER_OFFLINE_AFTER is offline (found by the sweeper on the fake clock) and back on
its next sync, once per spell, also across a restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from berth.cloud.towers import repository as towers_repo
from tests.cloud.conftest import Cloud, make_cloud, wait_until
from tests.support.partner_events import partner_events

OFFLINE_AFTER = 300  # the setting's default (tests/support/configs.py reads no environment)


def shared_cloud(db_url: str, data: Path) -> Iterator[Cloud]:
    for cl in make_cloud(db_url, data, sweep_interval=0.02, access_token_ttl=10**8):
        cl.service.towers.assign_tower(cl.tower_id, cl.service.partners.partner_id("other"))
        yield cl


@pytest.fixture
def cloud(db_url: str, tmp_path: Path) -> Iterator[Cloud]:
    """The demo tower shared by "demo" and "other", the sweeper running often."""
    yield from shared_cloud(db_url, tmp_path / "data")


def dropoff(cloud: Cloud, lid: int) -> dict[str, Any]:
    r = cloud.http.post(f"{cloud.lockers_url()}/{lid}/dropoff-locker-tokens",
                        json={"duration": 600}, headers=cloud.headers())
    assert r.status_code == 201, r.text
    return r.json()


def named(cloud: Cloud, who: str) -> list[dict[str, Any]]:
    kinds = {"locker.door_forced", "locker.door_jammed", "token.refused", "tower.offline",
             "tower.back"}
    return [e for e in partner_events(cloud, who) if e["type"] in kinds]


def test_forced_jammed_and_refused_go_to_who_should_know_once(cloud: Cloud) -> None:
    held, free = cloud.locker_ids()[:2]
    drop = dropoff(cloud, held)  # "demo" holds this locker now
    events = [
        cloud.event("door_forced", locker_id=held),
        cloud.event("door_forced", locker_id=free),
        cloud.event("open_failed", locker_id=held, token_id=drop["token_id"],
                    code="DOOR_DID_NOT_OPEN", reason="never reported open"),
        cloud.event("open_failed", locker_id=held, token_id=drop["token_id"],
                    code="CONTROLLER_UNREACHABLE", reason="no answer"),  # not a jam
        cloud.event("open_refused", locker_id=held, token_id=drop["token_id"],
                    code="TOKEN_ALREADY_USED", reason="spent"),
        cloud.event("open_refused", code="MSG_EXPIRED", reason="too late"),  # token unknown
    ]
    assert cloud.post_events(*events).status_code == 200
    assert cloud.post_events(*events).json()["results"][0]["outcome"] == "duplicate"

    demo = [(e["type"], e["locker_id"], e["data"].get("code")) for e in named(cloud, "demo")]
    assert demo == [
        ("locker.door_forced", held, None),
        ("locker.door_forced", free, None),
        ("locker.door_jammed", held, "DOOR_DID_NOT_OPEN"),
        ("token.refused", held, "TOKEN_ALREADY_USED"),
        ("token.refused", None, "MSG_EXPIRED"),
    ]
    other = [(e["type"], e["locker_id"], e["data"].get("code")) for e in named(cloud, "other")]
    assert other == [("locker.door_forced", free, None), ("token.refused", None, "MSG_EXPIRED")]
    refused = named(cloud, "demo")[3]["data"]
    assert refused["token_id"] == drop["token_id"] and refused["token_kind"] == "dropoff"
    assert refused["seq"] == events[4]["seq"]


def test_a_silent_tower_is_offline_once_and_back_on_its_next_sync(db_url: str,
                                                                 tmp_path: Path) -> None:
    data = tmp_path / "data"
    for cloud in shared_cloud(db_url, data):
        cloud.post_events(cloud.event("boot"))  # the cloud has seen the tower
        cloud.clock.advance(OFFLINE_AFTER - 1)
        cloud.service.sweep()
        assert named(cloud, "demo") == []
        cloud.clock.advance(2)
        wait_until(lambda: named(cloud, "demo"))  # noqa: B023 - used at once
        cloud.service.sweep()
        for who in ("demo", "other"):
            [offline] = named(cloud, who)
            assert offline["type"] == "tower.offline" and offline["tower_id"] == cloud.tower_id
            assert offline["locker_id"] is None
        stopped_at = cloud.clock()
    # a restart reads the spell from the database: no second tower.offline
    for cloud in shared_cloud(db_url, data):
        cloud.clock.now = stopped_at
        cloud.clock.advance(OFFLINE_AFTER * 3)
        cloud.service.sweep()
        assert [e["type"] for e in named(cloud, "demo")] == ["tower.offline"]
        r = cloud.http.get(f"/sdk/v1/towers/{cloud.tower_id}/commands",
                           headers=cloud.headers("demo", "tower_access"))
        assert r.status_code == 200
        cloud.post_events(cloud.event("boot", seq=1000))  # a second sync: one tower.back
        for who in ("demo", "other"):
            assert [e["type"] for e in named(cloud, who)] == ["tower.offline", "tower.back"]
        back = named(cloud, "demo")[1]["data"]
        assert back["offline_since"].startswith(stopped_at.date().isoformat())
        cloud.clock.advance(OFFLINE_AFTER + 1)  # silent again: a new spell, reported again
        wait_until(lambda: len(named(cloud, "other")) == 3)  # noqa: B023


def test_most_syncs_only_read_when_the_tower_was_last_seen(cloud: Cloud) -> None:
    """A sync writes when the one written is older than a tenth of the threshold."""
    commands = f"/sdk/v1/towers/{cloud.tower_id}/commands"
    phone = cloud.headers("demo", "tower_access")

    def last_seen() -> Any:
        with cloud.service.db.read() as conn:
            row = towers_repo.liveness(conn, cloud.tower_id)
        return row["last_seen_at"] if row is not None else None

    assert last_seen() is None  # never synced: never offline either
    cloud.service.sweep()
    assert named(cloud, "demo") == []
    cloud.http.get(commands, headers=phone)
    first = last_seen()
    assert first == cloud.clock()
    cloud.clock.advance(OFFLINE_AFTER / 10 - 1)
    cloud.http.get(commands, headers=phone)
    assert last_seen() == first
    cloud.clock.advance(2)
    cloud.http.get(commands, headers=phone)
    assert last_seen() == cloud.clock()
