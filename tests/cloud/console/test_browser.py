"""The fleet console in a real browser, driven as an operator would (conftest.py here).

Every wait is on a condition (Playwright's ``expect``, or the receiver having its webhooks),
never a sleep. Each test leaves screenshots in its tmp dir.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.cloud.console.conftest import WAIT_MS, LiveCloud
from tests.cloud.webhooks.receiver import Receiver
from tests.support.waiting import wait_until

expect.set_options(timeout=WAIT_MS)


def log_in(page: Any, cloud: LiveCloud, who: str = "operator") -> None:
    creds = cloud.creds(who)
    page.goto(cloud.url + "/console")
    expect(page).to_have_url(cloud.url + "/console/login")
    page.get_by_label("Client id").fill(creds["client_id"])
    page.get_by_label("Client secret").fill(creds["client_secret"])
    page.get_by_label("Client secret").press("Enter")


def test_log_in_and_see_a_partner_and_its_tower(page: Any, live_cloud: LiveCloud,
                                                tmp_path: Path) -> None:
    log_in(page, live_cloud, "demo")
    expect(page.locator("#login-error")).to_have_text("This is not an operator client.")
    log_in(page, live_cloud)
    expect(page.locator("#who")).to_have_text(live_cloud.creds("operator")["client_id"])
    tower = page.locator(f'#sync-health tr[data-tower-id="{live_cloud.tower_id}"]')
    expect(tower.locator(".partners")).to_have_text("demo")
    expect(page.locator('#by-state [data-state="available"] .n')).to_have_text("16")
    page.get_by_role("link", name="Partners").click()
    expect(page.locator('section[data-partner="demo"] h2')).to_contain_text("demo")
    page.get_by_role("link", name="Towers").click()
    expect(page.locator('#map [data-location="Hauptbahnhof"]')).to_have_class("place has-towers")
    expect(page.locator("#map .place")).to_have_count(4)
    expect(tower).to_contain_text("Hauptbahnhof")
    page.screenshot(path=str(tmp_path / "towers.png"), full_page=True)
    page.set_viewport_size({"width": 768, "height": 1024})  # a tablet held upright
    for path in ("/console", "/console/towers", "/console/partners", "/console/lockers"):
        page.goto(live_cloud.url + path)
        assert page.evaluate("document.documentElement.scrollWidth <= innerWidth"), path
    page.screenshot(path=str(tmp_path / "upright.png"), full_page=True)


def test_follow_a_parcels_life(page: Any, live_cloud: LiveCloud, tmp_path: Path,
                               free_port: Callable[[], int]) -> None:
    cloud = live_cloud
    receiver = Receiver(free_port()).start()
    try:
        hook = cloud.http.post("/api/v1/webhooks", headers=cloud.headers(),
                               json={"url": receiver.url})
        assert hook.status_code == 201, hook.text
        lid = cloud.locker_ids()[2]
        base = f"{cloud.lockers_url()}/{lid}"
        reservation = cloud.http.post(f"{base}/reservations", json={"duration": 300},
                                      headers=cloud.headers())
        assert reservation.status_code == 201, reservation.text
        drop = cloud.http.post(f"{base}/dropoff-locker-tokens", json={"duration": 600},
                               headers=cloud.headers()).json()
        pushed = cloud.post_events(cloud.event("dropoff_token_used", locker_id=lid,
                                               token_id=drop["token_id"]))
        assert pushed.json()["results"][0]["outcome"] == "applied"
        # reserved, rented, occupied, token issued, token used, event applied: all delivered
        wait_until(lambda: len(receiver.got) >= 6, "the webhooks never arrived")
        log_in(page, cloud)
        page.get_by_role("link", name="Parcels").click()
        page.get_by_label("Locker, reservation or token id").fill(drop["token_id"])
        page.get_by_label("Locker, reservation or token id").press("Enter")
        expect(page.locator("#parcel-title")).to_contain_text(f"Locker {lid}")
        expect(page.locator("#locker-state")).to_have_text("occupied")
        expect(page.locator("#reservations tbody tr")).to_have_count(1)
        expect(page.locator(f'#tokens [data-token-id="{drop["token_id"]}"]')).to_contain_text(
            "dropoff")
        expect(page.locator("#tower-events")).to_contain_text("dropoff_token_used")
        expect(page.locator("#tower-events")).to_contain_text("applied")
        expect(page.locator("#state-changes tbody tr")).to_have_count(3)
        expect(page.locator("#state-changes")).to_contain_text("occupied")
        expect(page.locator("#deliveries .status").first).to_have_text("succeeded")
        assert drop["payload_auth"] not in page.content()
        page.screenshot(path=str(tmp_path / "parcel.png"), full_page=True)
        page.get_by_role("link", name="Webhooks").click()
        first = page.get_by_role("button", name="Redeliver delivery").first
        before = Counter(r.headers["webhook-id"] for r in receiver.got)  # before: it may be fast
        first.focus()
        page.keyboard.press("Enter")
        expect(page.locator("#notice")).to_contain_text("queued again")
        wait_until(lambda: any(n > before[k] for k, n in Counter(
            r.headers["webhook-id"] for r in receiver.got).items()),
            "the redelivery (a webhook-id already received, again) never arrived")
    finally:
        receiver.stop()


def test_revoke_a_client_by_keyboard(page: Any, live_cloud: LiveCloud) -> None:
    log_in(page, live_cloud)
    page.get_by_role("link", name="Partners").click()
    page.get_by_role("button", name="New client for other").click()
    client_id = page.locator("#new-client-id").inner_text()
    secret = page.locator("#new-client-secret").inner_text()
    creds = {"grant_type": "client_credentials", "client_id": client_id,
             "client_secret": secret}
    assert live_cloud.http.post("/oauth/token", data=creds).status_code == 200
    revoke = page.get_by_role("button", name=f"Revoke client {client_id}")
    revoke.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#notice")).to_have_text(f"Client {client_id} revoked")
    expect(page.locator(f'tr[data-client-id="{client_id}"]')).to_have_count(0)
    assert live_cloud.http.post("/oauth/token", data=creds).status_code == 401
