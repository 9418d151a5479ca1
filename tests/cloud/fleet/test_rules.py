"""Fleet API rules without a broker: waits from Prefer, a limit shared by processes, keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from berth.cloud.app import build_service
from berth.cloud.fleet.service import RateLimited
from berth.domain.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from berth.kit.clock import FakeClock
from tests.cloud.fleet.conftest import location
from tests.support.configs import cloud_config


def test_waits_follow_the_kind_and_prefer(tmp_path: Path) -> None:
    policy = build_service(cloud_config(f"sqlite:///{tmp_path / 'c.db'}", tmp_path)).fleet.policy
    assert (policy.wait_for("read", None), policy.wait_for("write", None),
            policy.wait_for("hardware", None)) == (5, 10, 15)
    assert policy.wait_for("hardware", "respond-async") == 0
    assert policy.wait_for("read", "wait=3") == 3
    assert policy.wait_for("read", "handling=lenient, wait=99") == 30  # at most 30
    assert policy.wait_for("write", "wait=abc") == 10


def test_the_rate_limit_is_shared_by_processes_on_one_database(
        tmp_path: Path, db_url: str) -> None:
    clock = FakeClock()
    one = build_service(cloud_config(db_url, tmp_path / "a", clock=clock))
    two = build_service(cloud_config(db_url, tmp_path / "b", clock=clock, migrate=False))
    key = one.fleet.create_organisation("acme")
    caller = two.fleet.authenticate(key)
    for n in range(120):
        state = (one if n % 2 else two).fleet.count(caller)
    assert state.remaining == 0
    with pytest.raises(RateLimited) as refused:
        one.fleet.count(caller)
    assert refused.value.retry_after >= 1 and refused.value.state.remaining == 0
    clock.advance(60)  # the next minute: a new window
    assert two.fleet.count(caller).remaining == 119


def test_operators_manage_organisations_keys_and_sites(tmp_path: Path) -> None:
    service = build_service(cloud_config(f"sqlite:///{tmp_path / 'c.db'}", tmp_path)).fleet
    key = service.create_organisation("acme")
    with pytest.raises(Conflict):
        service.create_organisation("acme")
    second = service.create_key("acme")
    assert service.authenticate(key).organisation_id == service.authenticate(second) \
        .organisation_id
    with pytest.raises(Unauthenticated):
        service.authenticate(key[:-1] + ("A" if key[-1] != "A" else "B"))
    with pytest.raises(NotFound):
        service.create_key("nobody")
    with pytest.raises(NotFound):
        service.bind_site("acme", 999, "depot-1")
    with pytest.raises(InvalidInput):
        service.bind_site("acme", 1, "Not A Site")
    loc = location(build_service(cloud_config(f"sqlite:///{tmp_path / 'c.db'}", tmp_path,
                                              migrate=False)), "Depot")
    service.bind_site("acme", loc, "depot-1")
    with pytest.raises(Conflict):
        service.bind_site("acme", loc, "depot-2")  # a location has one site
    (site,) = service.list_sites("acme")
    assert (site.site_id, site.organisation, site.location_id, site.online) == (
        "depot-1", "acme", loc, False)
