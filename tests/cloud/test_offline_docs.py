"""The cloud's interactive docs load nothing from the internet."""

from __future__ import annotations

from tests.cloud.conftest import Cloud
from tests.support.offline_docs import assert_docs_offline


def test_docs_pages_use_only_assets_served_by_the_cloud(cloud: Cloud) -> None:
    assert_docs_offline(cloud.http)
