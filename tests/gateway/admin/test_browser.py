"""The site console in a real browser, driven as an operator would (tests/support/browser.py).

Every wait is on a condition (Playwright's ``expect``, generous bounds), never a sleep.
"""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import expect

from berth.hardware import embedded_sim
from tests.gateway.admin.conftest import TECHNICIAN_KEY
from tests.gateway.conftest import API_KEY, AUTH
from tests.support.browser import WAIT_MS, LiveServer, screenshot
from tests.support.waiting import wait_until

expect.set_options(timeout=WAIT_MS)


def log_in(page: Any, server: LiveServer, key: str = API_KEY) -> None:
    page.goto(server.url + "/admin")
    page.get_by_label("API key").fill(key)
    page.get_by_label("API key").press("Enter")


def locker(page: Any, locker_id: int) -> Any:
    return page.locator(f'.banks [data-locker-id="{locker_id}"]')


def test_log_in_and_see_the_site_drawn(page: Any, site_server: LiveServer) -> None:
    log_in(page, site_server, "wrong-key")
    expect(page.locator("#login-error")).to_contain_text("Wrong key")
    log_in(page, site_server)
    expect(page.locator("#role")).to_have_text("owner")
    expect(page.locator(".bank")).to_have_count(3)
    expect(page.locator(".banks .locker")).to_have_count(36)
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    # real proportions: a large locker (30 in) stands taller than a small one (8 in)
    small = locker(page, 1).bounding_box()
    large = locker(page, 27).bounding_box()
    assert large["height"] > 2 * small["height"]
    screenshot(page, "site")


def test_a_door_opened_by_the_api_turns_open_and_closed_live(
        page: Any, site_server: LiveServer) -> None:
    log_in(page, site_server)
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    expect(locker(page, 5)).to_have_attribute("data-state", "free")
    opened = httpx.post(site_server.url + "/lockers/5/open", headers=AUTH, timeout=60)
    assert opened.json()["success"] is True
    expect(locker(page, 5)).to_have_attribute("data-state", "open")
    screenshot(page, "site-door-open")
    expect(locker(page, 5)).to_have_attribute("data-state", "free")
    httpx.post(site_server.url + "/transactions", json={"transactionId": "live-1"},
               headers=AUTH, timeout=60)
    expect(page.locator('.banks [data-state="held"]')).to_have_count(1)


def test_a_technician_takes_a_locker_out_of_service_by_keyboard(
        page: Any, site_server: LiveServer) -> None:
    log_in(page, site_server, TECHNICIAN_KEY)
    expect(page.locator("#role")).to_have_text("technician")
    locker(page, 7).focus()
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_contain_text("Locker 7")
    page.get_by_label("Reason code").fill("BROKEN_LOCK")
    page.get_by_label("Reason", exact=True).fill("hinge bent")
    page.get_by_role("button", name="Take out of service").click()
    expect(page.locator("#notice")).to_have_text("Locker 7 is out of service")
    expect(page.locator("#state")).to_have_attribute("data-state", "out")
    expect(page.locator("#reason")).to_contain_text("BROKEN_LOCK: hinge bent")
    screenshot(page, "locker-out-of-service")
    page.get_by_role("button", name="Open the door").click()
    expect(page.locator("#notice")).to_contain_text("Locker 7:")
    expect(page.locator("#history")).to_contain_text("OUT_OF_SERVICE")
    page.get_by_role("link", name="Site").first.click()
    expect(locker(page, 7)).to_have_attribute("data-state", "out")


def online(page: Any, server: LiveServer, controller_id: str) -> bool:
    """What the console's own API says, asked with the page's session."""
    rows = page.request.get(server.url + "/admin/api/controllers").json()
    return bool(next(r for r in rows if r["controllerId"] == controller_id)["online"])


def test_an_owner_replaces_a_failed_controller(page: Any, sim_site_server: LiveServer,
                                               sim_bus: str) -> None:
    sim = embedded_sim.simulator(sim_bus, "kerong")
    assert sim is not None
    log_in(page, sim_site_server)
    page.get_by_role("link", name="Controllers").click()
    row = page.locator('tr[data-controller-id="bank-b"]')
    expect(row.locator(".online")).to_have_text("online")
    sim.inject("silent", board=1)  # bank-b's board dies
    # the page is server-rendered: wait for the watcher to mark it, then reload
    wait_until(lambda: not online(page, sim_site_server, "bank-b"), "bank-b never went offline")
    page.reload()
    expect(row.locator(".online")).to_have_text("offline")
    page.get_by_label("Address").nth(1).fill("5")
    page.get_by_role("button", name="Replace bank-b").click()
    expect(page.locator("#notice")).to_contain_text("Controller bank-b now at address 5")
    expect(row.locator(".address")).to_have_text("5")
    wait_until(lambda: online(page, sim_site_server, "bank-b"), "the new board never answered")
    page.reload()
    expect(row.locator(".online")).to_have_text("online")
    screenshot(page, "controller-replaced")
    opened = httpx.post(sim_site_server.url + "/lockers/13/open", headers=AUTH, timeout=60)
    assert opened.json()["success"] is True
