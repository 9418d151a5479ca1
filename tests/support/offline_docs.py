"""Checks that a service's /docs and /redoc work without internet: every asset is its own."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from fastapi.testclient import TestClient

CONTENT_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


def referenced_urls(html: str) -> list[str]:
    """Every src/href in the page and every URL string in its inline script."""
    attrs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    scripts = re.findall(r"""["'`]((?:https?:)?//[^"'`]+)["'`]""", html)
    return attrs + scripts


def assert_docs_offline(http: TestClient) -> None:
    assets: set[str] = set()
    for page in ("/docs", "/redoc"):
        answer = http.get(page)
        assert answer.status_code == 200, page
        urls = referenced_urls(answer.text)
        assert urls, page
        for url in urls:
            parts = urlsplit(url)
            assert not parts.scheme and not parts.netloc, f"{page} loads {url} from elsewhere"
            assets.add(parts.path)
    assert {a.rsplit(".", 1)[-1] for a in assets} >= {"js", "css"}
    for asset in assets:
        answer = http.get(asset)  # no credentials: the page is public, so are its assets
        assert answer.status_code == 200, asset
        expected = CONTENT_TYPES["." + asset.rsplit(".", 1)[-1]]
        assert expected in answer.headers["content-type"], (asset, answer.headers)
        assert len(answer.content) > 1000, asset
