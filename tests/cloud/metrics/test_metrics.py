"""The cloud's /metrics: operators only; outbox backlog, tower sync and webhook numbers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.cloud.conftest import Cloud, make_cloud
from tests.cloud.tower_sync.test_sync import issue


@pytest.fixture
def held_cloud(db_url: str, tmp_path: Path) -> Iterator[Cloud]:
    """No dispatcher: outbox events stay queued, so the backlog is there to read (both engines)."""
    yield from make_cloud(db_url, tmp_path / "data", outbox_dispatch_interval=0)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_only_operators_read_metrics(held_cloud: Cloud) -> None:
    assert held_cloud.http.get("/metrics").status_code == 401
    assert held_cloud.http.get("/metrics", headers=held_cloud.headers()).status_code == 403
    r = held_cloud.http.get("/metrics", headers=held_cloud.headers("operator", "operator"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")


def test_backlog_tower_sync_and_request_latency(held_cloud: Cloud) -> None:
    cloud = held_cloud
    locker = cloud.locker_ids()[0]
    drop = issue(cloud, locker, "dropoff-locker-tokens")
    used = cloud.event("dropoff_token_used", locker_id=locker, token_id=drop["token_id"])
    assert cloud.post_events(used).status_code == 200
    cloud.clock.advance(30)
    found = samples(cloud.http.get("/metrics", headers=cloud.headers("operator", "operator")).text)
    assert found[("berth_cloud_outbox_queued_events", ())] >= 1
    assert found[("berth_cloud_outbox_lag_seconds", ())] >= 30
    tower = (("tower", cloud.tower_id),)
    assert found[("berth_cloud_tower_last_event_age_seconds", tower)] == 30
    assert found[("berth_cloud_tower_commands_pending", tower)] == 0
    route = (("method", "GET"), ("route", "/api/v1/towers/{tower_id}/lockers"), ("status", "200"))
    assert found[("berth_cloud_http_request_duration_seconds_count", route)] == 1
