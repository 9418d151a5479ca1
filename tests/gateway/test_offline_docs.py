"""The gateway's interactive docs work on a site without internet, and without the API key."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.support.offline_docs import assert_docs_offline


def test_docs_pages_use_only_assets_served_by_the_gateway(client: TestClient) -> None:
    client.headers.pop("X-API-Key", None)
    assert_docs_offline(client)
