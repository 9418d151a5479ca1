"""Named outcomes reach a partner's real webhook receiver, signed: the cloud's own background
sweeper, dispatcher and delivery worker run, the fake clock makes a parcel overdue and a tower
silent, and only the endpoint of the partner concerned hears of the parcel."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cloud.conftest import Cloud, local_webhooks, make_cloud, wait_until
from tests.cloud.webhooks.receiver import Receiver


@pytest.fixture
def cloud(sqlite_url: str, tmp_path: Path) -> Iterator[Cloud]:
    policy = local_webhooks(0.05)
    for cl in make_cloud(sqlite_url, tmp_path / "data", sweep_interval=0.02, webhooks=policy,
                         outbox_dispatch_interval=0.05, access_token_ttl=10**8):
        cl.service.towers.assign_tower(cl.tower_id, cl.service.partners.partner_id("other"))
        yield cl


def endpoint(cloud: Cloud, who: str, receiver: Receiver) -> str:
    r = cloud.http.post("/api/v1/webhooks", headers=cloud.headers(who), json={
        "url": receiver.url, "event_types": ["parcel.not_collected", "tower.offline"]})
    assert r.status_code == 201, r.text
    return str(r.json()["secret"])


def test_parcel_not_collected_and_tower_offline_arrive_signed(
        cloud: Cloud, free_port: Callable[[], int]) -> None:
    mine, theirs = Receiver(free_port()).start(), Receiver(free_port()).start()
    try:
        secret = endpoint(cloud, "demo", mine)
        other_secret = endpoint(cloud, "other", theirs)
        location = cloud.seed["location_ids"][0]
        cloud.http.patch(f"/api/v1/admin/locations/{location}",
                         json={"collection_window": 3600},
                         headers=cloud.headers("operator", "operator"))
        lid = cloud.locker_ids()[0]
        drop = cloud.http.post(f"{cloud.lockers_url()}/{lid}/dropoff-locker-tokens",
                               json={"duration": 600}, headers=cloud.headers()).json()
        cloud.post_events(cloud.event("dropoff_token_used", locker_id=lid,
                                      token_id=drop["token_id"]))
        cloud.clock.advance(3601)  # overdue, and the tower has been silent since it synced
        wait_until(lambda: len(mine.got) == 2 and len(theirs.got) == 1)
        bodies: list[Any] = [r.verify(secret) for r in mine.got]
        assert [b["type"] for b in bodies] == ["parcel.not_collected", "tower.offline"]
        parcel = bodies[0]["data"]
        assert parcel["locker_id"] == lid and parcel["tower_id"] == cloud.tower_id
        assert "collect_by" in parcel
        [offline] = [r.verify(other_secret) for r in theirs.got]
        assert offline["type"] == "tower.offline"  # type: ignore[index]
        assert json.loads(theirs.got[0].body)["data"]["tower_id"] == cloud.tower_id
    finally:
        mine.stop()
        theirs.stop()
