"""`berth gateway open-all`: every locker opened in turn, each reported as it goes."""

from __future__ import annotations

from fastapi.testclient import TestClient

from berth.cli.gateway import locker_ids, open_each
from berth.sdk.gateway import GatewayClient
from tests.gateway.conftest import API_KEY


def test_each_locker_opens_in_turn_and_a_refusal_does_not_stop_the_rest(
        client: TestClient) -> None:
    with GatewayClient(str(client.base_url), API_KEY, http=client) as gateway:
        ids = locker_ids(gateway)
        assert len(ids) == 36
        steps: list[str] = []
        results = open_each(gateway, [1, 999, 3], steps.append)  # 999: gone since the list
    assert [(lid, ok) for lid, ok, _ in results] == [(1, True), (999, False), (3, True)]
    assert "404" in results[1][2]
    assert steps == ["locker 1 opened", "locker 999 shut", "locker 3 opened"]
