"""The fleet console over HTTP, without a browser: who gets in, and what each form needs."""

from __future__ import annotations

import re
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from berth.cloud.console.session import SECRET_FILE
from tests.cloud.conftest import Cloud, local_webhooks, make_cloud, wait_until

TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


def form_token(http: TestClient, path: str = "/console/login") -> str:
    found = TOKEN.search(http.get(path).text)
    assert found, f"no form token on {path}"
    return found.group(1)


def log_in(cloud: Cloud, who: str = "operator", secret: str | None = None) -> TestClient:
    creds = cloud.creds(who)
    r = cloud.http.post("/console/login", follow_redirects=False, data={
        "form_token": form_token(cloud.http), "client_id": creds["client_id"],
        "client_secret": creds["client_secret"] if secret is None else secret})
    assert r.status_code == 303, r.text
    return cloud.http


def test_no_session_is_sent_to_the_login_page(cloud: Cloud) -> None:
    for path in ("/console", "/console/partners", "/console/towers", "/console/lockers",
                 "/console/webhooks", "/console/parcel?q=1"):
        r = cloud.http.get(path, follow_redirects=False)
        assert (r.status_code, r.headers["location"]) == (303, "/console/login"), path
    r = cloud.http.post("/console/clients/x/revoke", data={"form_token": "x"},
                        follow_redirects=False)
    assert r.status_code == 303


def test_an_operator_logs_in_and_sees_the_fleet(cloud: Cloud) -> None:
    http = log_in(cloud)
    page = http.get("/console")
    assert page.status_code == 200
    assert cloud.tower_id in page.text and "Demo tower" in page.text
    assert 'data-state="available"><span class="n">16</span>' in page.text
    cookie = next(c for c in http.cookies.jar if c.name == "berth_console")
    assert cookie.path == "/console" and cookie.has_nonstandard_attr("httponly")


def test_the_session_secret_is_a_private_file_in_the_data_dir(cloud: Cloud,
                                                             tmp_path: Path) -> None:
    path = tmp_path / "data" / SECRET_FILE  # the cloud fixture's data dir
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_bytes()) == 32


def test_partner_credentials_are_refused(cloud: Cloud) -> None:
    r = cloud.http.post("/console/login", data={
        "form_token": form_token(cloud.http), **cloud.creds("demo")})
    assert r.status_code == 403
    assert "not an operator client" in r.text
    assert cloud.http.get("/console", follow_redirects=False).status_code == 303
    r = cloud.http.post("/console/login", data={
        "form_token": form_token(cloud.http), "client_id": cloud.creds("operator")["client_id"],
        "client_secret": "wrong"})
    assert r.status_code == 401 and "Wrong client id or secret" in r.text


def test_failed_logins_are_limited_with_retry_after(cloud: Cloud) -> None:
    operator = cloud.creds("operator")["client_id"]
    statuses = [cloud.http.post("/console/login", data={
        "form_token": form_token(cloud.http), "client_id": operator,
        "client_secret": "wrong"}).status_code for _ in range(11)]
    assert statuses[:10] == [401] * 10
    limited = cloud.http.post("/console/login", data={
        "form_token": form_token(cloud.http), **cloud.creds("operator")})
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    assert "Too many failed logins" in limited.text


def test_a_form_without_its_csrf_token_is_refused(cloud: Cloud) -> None:
    r = cloud.http.post("/console/login", data=cloud.creds("operator"))
    assert r.status_code == 403
    http = log_in(cloud)
    for data in ({}, {"form_token": "forged"}):
        r = http.post("/console/partners", data={"name": "sneaky", **data})
        assert r.status_code == 403, data
        assert r.json()["code"] == "CSRF_FAILED"
    assert "sneaky" not in http.get("/console/partners").text


def test_create_a_partner_and_revoke_its_client(cloud: Cloud) -> None:
    http = log_in(cloud)
    token = form_token(http, "/console/partners")
    r = http.post("/console/partners", data={"name": "Parcelco", "form_token": token})
    assert r.status_code == 201
    client_id = re.search(r'id="new-client-id">([^<]+)<', r.text).group(1)  # type: ignore[union-attr]
    secret = re.search(r'id="new-client-secret">([^<]+)<', r.text).group(1)  # type: ignore[union-attr]
    creds = {"client_id": client_id, "client_secret": secret}
    again = http.post("/console/partners", data={"name": "Parcelco", "form_token": token})
    assert again.status_code == 409 and "Parcelco&#39; exists" in again.text
    got = cloud.http.post("/oauth/token", data={"grant_type": "client_credentials", **creds})
    assert got.status_code == 200
    listed = http.get("/console/partners").text
    assert client_id in listed and secret not in listed  # the secret is shown once
    r = http.post(f"/console/clients/{client_id}/revoke", data={"form_token": token},
                  follow_redirects=False)
    assert r.status_code == 303
    got = cloud.http.post("/oauth/token", data={"grant_type": "client_credentials", **creds})
    assert got.status_code == 401
    bearer = {"Authorization": f"Bearer {cloud.headers()['Authorization'].split()[1]}"}
    demo = cloud.creds("demo")["client_id"]
    http.post(f"/console/clients/{demo}/revoke", data={"form_token": token})
    cloud.clock.advance(6)  # past any cache of client rows a process keeps (a few seconds)
    assert cloud.http.get(cloud.lockers_url(), headers=bearer).status_code == 401


def test_a_revoked_operator_loses_the_console(cloud: Cloud) -> None:
    http = log_in(cloud)
    cloud.service.console.revoke_client(cloud.creds("operator")["client_id"])
    assert http.get("/console", follow_redirects=False).status_code == 303


def test_parcel_search_by_locker_reservation_and_token(cloud: Cloud) -> None:
    lid = cloud.locker_ids()[0]
    base = f"{cloud.lockers_url()}/{lid}"
    reservation = cloud.http.post(f"{base}/reservations", json={"duration": 300},
                                  headers=cloud.headers()).json()
    drop = cloud.http.post(f"{base}/dropoff-locker-tokens", json={"duration": 600},
                           headers=cloud.headers()).json()
    cloud.post_events(cloud.event("dropoff_token_used", locker_id=lid,
                                  token_id=drop["token_id"]))
    http = log_in(cloud)
    reservation_id = reservation.get("id") or reservation["reservation_id"]
    for q in (str(lid), reservation_id, drop["token_id"]):
        page = http.get("/console/parcel", params={"q": q})
        assert page.status_code == 200, q
        text = page.text
        assert drop["token_id"] in text and "dropoff_token_used" in text
        assert ">occupied<" in text.replace(" ", "")  # the state now
        assert drop["payload_auth"] not in text and drop["payload"] not in text
    missing = http.get("/console/parcel", params={"q": "nothing-like-it"})
    assert missing.status_code == 404 and "No locker, reservation or token" in missing.text


def test_tenant_data_only_for_operators(cloud: Cloud) -> None:
    """A partner's bearer token opens no console page; its own session cookie is needed."""
    for path in ("/console", "/console/partners", "/console/webhooks"):
        r = cloud.http.get(path, headers=cloud.headers(), follow_redirects=False)
        assert r.status_code == 303, path
        assert "Demo tower" not in r.text


@pytest.fixture
def any_cloud(db_url: str, tmp_path: Path) -> Iterator[Cloud]:
    """The demo cloud on SQLite and on PostgreSQL, its webhooks free to target this machine."""
    policy = local_webhooks(0.05)
    yield from make_cloud(db_url, tmp_path / "data", webhooks=policy,
                          outbox_dispatch_interval=0.05)


def test_a_parcels_life_and_the_fleet_on_both_engines(any_cloud: Cloud,
                                                      free_port: Callable[[], int]) -> None:
    cloud = any_cloud
    hook = cloud.http.post("/api/v1/webhooks", headers=cloud.headers(), json={
        "url": f"http://127.0.0.1:{free_port()}/hook"})  # nobody listens: retried, pending
    assert hook.status_code == 201, hook.text
    lid = cloud.locker_ids()[1]
    drop = cloud.http.post(f"{cloud.lockers_url()}/{lid}/dropoff-locker-tokens",
                           json={"duration": 600}, headers=cloud.headers()).json()
    cloud.post_events(cloud.event("dropoff_token_used", locker_id=lid,
                                  token_id=drop["token_id"]),
                      cloud.event("dropoff_token_used", locker_id=lid, token_id="f" * 32))
    http = log_in(cloud)
    wait_until(lambda: "LOCKER_OPERATION" in http.get("/console/parcel",
                                                      params={"q": drop["token_id"]}).text)
    life = cloud.service.console.parcel(drop["token_id"])
    assert [t["id"] for t in life.tokens] == [drop["token_id"]]
    assert [(s["data"]["from"], s["data"]["to"]) for s in life.state_changes] == [
        ("available", "rented"), ("rented", "occupied")]
    assert {d["type"] for d in life.deliveries} >= {"LOCKER_OPERATION", "locker.state_changed"}
    assert all(d["url"].endswith("/hook") for d in life.deliveries)
    [tower] = cloud.service.console.towers()
    assert (tower.last_seq, tower.events, tower.refused) == (2, 2, 1)
    assert tower.partners == ["demo"] and tower.location == "Hauptbahnhof"
    page = http.get("/console").text
    assert 'data-state="occupied"><span class="n">1</span>' in page
    webhooks = http.get("/console/webhooks").text
    delivery = re.search(r'data-delivery-id="(\d+)"', webhooks).group(1)  # type: ignore[union-attr]
    r = http.post(f"/console/webhooks/{hook.json()['id']}/deliveries/{delivery}/redeliver",
                  data={"form_token": form_token(http, "/console/webhooks")},
                  follow_redirects=False)
    assert r.status_code == 303 and "queued+again" in r.headers["location"]
    assert "Hauptbahnhof" in http.get("/console/towers").text
