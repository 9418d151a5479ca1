"""The admin page over HTTP: login with the key, see the site, act through CSRF-safe forms."""

from __future__ import annotations

from html.parser import HTMLParser

from fastapi.testclient import TestClient

from tests.gateway.conftest import API_KEY


class Page(HTMLParser):
    """Collects forms (action, hidden fields), table ids and row data of the admin page."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self.tables: set[str] = set()
        self.rows: dict[str, dict[str, str]] = {}
        self._row: str | None = None
        self._cell: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action"), "fields": {}})
        elif tag == "input" and self.forms and a.get("type") == "hidden":
            self.forms[-1]["fields"][a["name"]] = a.get("value")
        elif tag == "table" and a.get("id"):
            self.tables.add(a["id"] or "")
        elif tag == "tr" and a.get("data-locker-id"):
            self._row = a["data-locker-id"]
            self.rows[self._row or ""] = {}
        elif tag == "td" and self._row and a.get("class"):
            self._cell = a["class"]

    def handle_data(self, data: str) -> None:
        if self._row and self._cell:
            self.rows[self._row][self._cell] = data.strip()
            self._cell = None

    def form(self, action: str) -> dict:
        return next(f for f in self.forms if f["action"] == action)


def login(client: TestClient) -> Page:
    r = client.post("/admin/login", data={"api_key": API_KEY}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert API_KEY not in cookie
    return Page(client.get("/admin").text)


def test_login_required_and_wrong_key_rejected(client: TestClient) -> None:
    client.headers.pop("X-API-Key")
    page = client.get("/admin")
    assert page.status_code == 200 and 'action="/admin/login"' in page.text
    assert "<table" not in page.text
    bad = client.post("/admin/login", data={"api_key": "nope"})
    assert bad.status_code == 401 and "Wrong API key" in bad.text
    client.cookies.set("berth_admin", "1.forged.signature", path="/admin")
    assert "<table" not in client.get("/admin").text


def test_dashboard_shows_site_state(client: TestClient) -> None:
    client.post("/transactions", json={"transactionId": "shown-tx"})
    client.patch("/lockers/2", json={"outOfService": True, "reasonCode": "BROKEN_LOCK"})
    client.post("/system/heartbeat", json={"deviceId": "kiosk-9", "deviceType": "kiosk"})
    client.headers.pop("X-API-Key")
    page = login(client)
    assert {"lockers", "transactions", "controllers", "devices", "logs"} <= page.tables
    assert len(page.rows) == 36
    assert page.rows["1"]["available"] == "no"
    assert page.rows["2"]["out-of-service"] == "yes"
    assert page.rows["3"] == page.rows["3"] | {"available": "yes", "operational": "yes",
                                               "door": "closed"}
    html = client.get("/admin").text
    for text in ("shown-tx", "kiosk-9", "bank-a", "BROKEN_LOCK", "TRANSACTION_CREATED"):
        assert text in html


def test_forms_open_and_change_service_state(client: TestClient) -> None:
    api = dict(client.headers)
    client.headers.pop("X-API-Key")
    page = login(client)
    open_form = page.form("/admin/lockers/4/open")
    r = client.post("/admin/lockers/4/open", data=open_form["fields"], follow_redirects=False)
    assert r.status_code == 303
    assert "Locker 4: Locker opened" in client.get(r.headers["location"]).text

    service_form = page.form("/admin/lockers/5/service")
    data = service_form["fields"] | {"reason_code": "broken_lock", "reason": "jammed"}
    r = client.post("/admin/lockers/5/service", data=data, follow_redirects=False)
    assert r.status_code == 303
    locker = client.get("/lockers/5", headers=api).json()
    assert locker["outOfService"] is True and locker["reasonCode"] == "BROKEN_LOCK"
    page = Page(client.get("/admin").text)
    assert page.rows["5"]["out-of-service"] == "yes"
    back = page.form("/admin/lockers/5/service")["fields"]
    assert back["out_of_service"] == "false"
    client.post("/admin/lockers/5/service", data=back)
    assert client.get("/lockers/5", headers=api).json()["outOfService"] is False


def test_forms_need_session_and_token(client: TestClient) -> None:
    client.headers.pop("X-API-Key")
    r = client.post("/admin/lockers/4/open", data={"form_token": "x"})
    assert r.status_code == 401 and r.json()["error"] == "UNAUTHORIZED"
    login(client)
    r = client.post("/admin/lockers/4/open", data={"form_token": "forged"})
    assert r.status_code == 403 and r.json()["error"] == "FORBIDDEN"
    r = client.post("/admin/lockers/4/service", data={"out_of_service": "true"})
    assert r.status_code == 403


def test_logout_ends_the_session(client: TestClient) -> None:
    client.headers.pop("X-API-Key")
    login(client)
    client.post("/admin/logout")
    assert "<table" not in client.get("/admin").text
