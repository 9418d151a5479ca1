"""The site console in a real browser, driven as an operator would (tests/support/browser.py)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.gateway.conftest import API_KEY
from tests.support.browser import WAIT_MS

expect.set_options(timeout=WAIT_MS)


def log_in(page: Any, site_url: str, key: str = API_KEY) -> None:
    page.goto(site_url + "/admin")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Log in").click()


def test_log_in_and_see_the_site(page: Any, site_url: str) -> None:
    log_in(page, site_url, "wrong-key")
    expect(page.locator("#login-error")).to_contain_text("Wrong API key")
    log_in(page, site_url)
    expect(page.locator("#lockers tr[data-locker-id]")).to_have_count(36)
