"""The site console over HTTP: key login in two roles, signed sessions, CSRF-checked forms."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.gateway.admin.conftest import TECHNICIAN_KEY
from tests.gateway.conftest import API_KEY, AUTH


@pytest.fixture
def console(gateway_factory: Callable[..., TestClient], sqlite_url: str) -> TestClient:
    """A gateway with a technician key, as a browser sees it: no API key header."""
    return gateway_factory(sqlite_url, technician_key=TECHNICIAN_KEY)


def login(client: TestClient, key: str = API_KEY) -> str:
    """Log in; the page's CSRF token."""
    r = client.post("/admin/login", data={"api_key": key}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin"
    cookie = r.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    assert "path=/admin" in cookie.lower() and key not in cookie
    return token_of(client.get("/admin").text)


def token_of(html: str) -> str:
    found = re.search(r'name="form_token" value="([^"]+)"', html)
    assert found, "no form token on the page"
    return found.group(1)


def test_login_required_and_wrong_key_rejected(console: TestClient) -> None:
    page = console.get("/admin")
    assert page.status_code == 200 and 'action="/admin/login"' in page.text
    assert 'class="banks"' not in page.text
    bad = console.post("/admin/login", data={"api_key": "nope"})
    assert bad.status_code == 401 and "Wrong key" in bad.text
    console.cookies.set("berth_admin", "forged.signature", path="/admin")
    assert 'class="banks"' not in console.get("/admin").text
    assert console.get("/admin/live").status_code == 401
    assert 'action="/admin/login"' in console.get("/admin/lockers/3").text


def test_the_site_is_drawn_bank_by_bank(console: TestClient) -> None:
    api = {**AUTH}
    console.post("/transactions", json={"transactionId": "shown-tx"}, headers=api)
    console.patch("/lockers/2", json={"outOfService": True, "reasonCode": "BROKEN_LOCK"},
                  headers=api)
    login(console)
    html = console.get("/admin").text
    assert html.count('class="bank"') == 3
    states = dict(re.findall(r'data-locker-id="(\d+)" data-state="(\w+)"', html))
    assert len(states) == 36
    assert states["1"] == "held" and states["2"] == "out" and states["3"] == "free"
    assert 'style="--w: 20.0; --h: 30.0"' in html  # a large locker at its real size
    for asset in ("/admin/static/console.css", "/admin/static/console.js"):
        assert asset in html and console.get(asset).status_code == 200
    assert console.get("/admin/static/other.js").status_code == 404


def test_locker_page_and_its_forms(console: TestClient) -> None:
    token = login(console, TECHNICIAN_KEY)
    page = console.get("/admin/lockers/5").text
    assert "Locker 5" in page and "bank-a channel 5" in page
    r = console.post("/admin/lockers/5/open", data={"form_token": token},
                     follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/admin/lockers/5?")
    assert "Locker 5: Locker opened" in console.get(r.headers["location"]).text
    data = {"form_token": token, "out_of_service": "true", "reason_code": "broken_lock",
            "reason": "jammed", "back": "site"}
    r = console.post("/admin/lockers/5/service", data=data, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/admin?")
    locker = console.get("/lockers/5", headers=AUTH).json()
    assert locker["outOfService"] is True and locker["reasonCode"] == "BROKEN_LOCK"
    page = console.get("/admin/lockers/5").text
    assert "LOCKER_OUT_OF_SERVICE" in page and "BROKEN_LOCK: jammed" in page
    console.post("/admin/lockers/5/service", data={"form_token": token,
                                                   "out_of_service": "false"})
    assert console.get("/lockers/5", headers=AUTH).json()["outOfService"] is False


def test_roles_follow_the_key(console: TestClient) -> None:
    login(console, TECHNICIAN_KEY)
    assert 'id="role">technician<' in console.get("/admin").text
    login(console)
    assert 'id="role">owner<' in console.get("/admin").text


def test_forms_need_session_and_token(console: TestClient) -> None:
    r = console.post("/admin/lockers/4/open", data={"form_token": "x"})
    assert r.status_code == 401 and r.json()["error"] == "UNAUTHORIZED"
    login(console)
    r = console.post("/admin/lockers/4/open", data={"form_token": "forged"})
    assert r.status_code == 403 and r.json()["error"] == "FORBIDDEN"
    r = console.post("/admin/lockers/4/service", data={"out_of_service": "true"})
    assert r.status_code == 403
    assert console.get("/lockers/4", headers=AUTH).json()["outOfService"] is False


def test_logout_ends_the_session(console: TestClient) -> None:
    token = login(console)
    console.post("/admin/logout", data={"form_token": token})
    assert 'class="banks"' not in console.get("/admin").text


def test_system_page_marks_stale_devices(gateway_factory: Callable[..., TestClient],
                                         sqlite_url: str) -> None:
    from berth.kit.clock import FakeClock

    clock = FakeClock()
    console = gateway_factory(sqlite_url, clock=clock, heartbeat_stale_after=60.0)
    console.post("/system/heartbeat", json={"deviceId": "kiosk-9", "deviceType": "kiosk"},
                 headers=AUTH)
    login(console)
    page = console.get("/admin/system").text
    assert "kiosk-9" in page and "sqlite: <span class=\"ok\">ok</span>" in page
    assert re.search(r'class="alarm ok">ok<', page) and "GB free of" in page
    clock.advance(61)
    assert re.search(r'class="alarm bad">stale<', console.get("/admin/system").text)


def test_transactions_search_and_log_filters(console: TestClient) -> None:
    for n in (1, 2):
        console.post("/transactions", json={"transactionId": f"find-{n}"}, headers=AUTH)
    console.delete("/transactions/find-1", headers=AUTH)
    login(console)
    active = console.get("/admin/transactions").text
    assert "find-2" in active and "find-1" not in active
    assert "find-1" in console.get("/admin/transactions?status=released").text
    one = console.get("/admin/transactions?q=find-1").text
    assert "find-1" in one and 'id="total">1 found' in one
    assert 'id="total">0 found' in console.get("/admin/transactions?q=nothing").text
    logs = console.get("/admin/logs?transaction=find-2").text
    assert "TRANSACTION_CREATED" in logs and "find-1" not in logs
    assert console.get("/admin/logs?level=loud").status_code == 400
