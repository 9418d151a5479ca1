"""Webhook endpoints over HTTP on real SQLite: create (secret once), list, patch, delete,
rotation, partner isolation, and refusal of private targets."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from berth.cloud.tables import webhook_endpoints
from berth.stack import Stack
from tests.cloud.conftest import Cloud, make_cloud
from tests.support.configs import cloud_config, isolated_settings

PUBLIC = "https://93.184.216.34/hooks"  # a literal public address: no DNS needed


def create(c: Cloud, url: str = PUBLIC, who: str = "demo", **fields: object) -> dict:
    r = c.http.post("/api/v1/webhooks", json={"url": url, **fields}, headers=c.headers(who))
    assert r.status_code == 201, r.text
    return r.json()


def test_create_shows_the_secret_once_and_keeps_it_sealed(cloud: Cloud) -> None:
    c = cloud
    made = create(c, event_types=["LOCKER_OPERATION", "reservation.expired"])
    assert made["secret"].startswith("whsec_")
    assert len(base64.b64decode(made["secret"].removeprefix("whsec_"))) == 24
    assert made["enabled"] is True and made["url"] == PUBLIC
    assert made["event_types"] == ["LOCKER_OPERATION", "reservation.expired"]
    listed = c.http.get("/api/v1/webhooks", headers=c.headers()).json()
    assert [w["id"] for w in listed] == [made["id"]] and "secret" not in listed[0]
    one = c.http.get(f"/api/v1/webhooks/{made['id']}", headers=c.headers()).json()
    assert "secret" not in one
    with c.service.db.read() as conn:
        row = conn.execute(select(webhook_endpoints)).mappings().one()
    raw = made["secret"].encode()
    assert raw not in row["secret_sealed"] and raw not in row["secret_sealed"].hex().encode()
    assert c.service.webhooks.signing_secrets(row, c.clock()) == [made["secret"]]


def test_patch_and_delete(cloud: Cloud) -> None:
    c = cloud
    made = create(c)
    url = f"/api/v1/webhooks/{made['id']}"
    r = c.http.patch(url, json={"enabled": False, "event_types": ["token.issued"]},
                     headers=c.headers())
    assert r.status_code == 200, r.text
    assert r.json()["enabled"] is False and r.json()["event_types"] == ["token.issued"]
    assert c.http.delete(url, headers=c.headers()).status_code == 204
    assert c.http.get(url, headers=c.headers()).json()["code"] == "WEBHOOK_NOT_FOUND"
    assert c.http.get("/api/v1/webhooks", headers=c.headers()).json() == []


def test_a_partner_sees_only_its_own_endpoints(cloud: Cloud) -> None:
    c = cloud
    mine = create(c)
    url = f"/api/v1/webhooks/{mine['id']}"
    other = c.headers("other")
    assert c.http.get("/api/v1/webhooks", headers=other).json() == []
    for method, path, body in [("GET", url, None), ("PATCH", url, {"enabled": False}),
                               ("DELETE", url, None), ("POST", url + "/rotate-secret", None),
                               ("GET", url + "/deliveries", None)]:
        r = c.http.request(method, path, json=body, headers=other)
        assert r.status_code == 404, (method, path)
        assert r.json()["code"] == "WEBHOOK_NOT_FOUND"
    assert c.http.get(url, headers=c.headers()).json()["enabled"] is True


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9000/x", "http://localhost/x", "http://10.1.2.3/x",
    "http://192.168.1.20/x", "http://169.254.169.254/latest/meta-data", "http://[::1]/x",
    "http://[::ffff:127.0.0.1]/x", "http://0.0.0.0/x",
])
def test_private_targets_are_refused(cloud: Cloud, url: str) -> None:
    r = cloud.http.post("/api/v1/webhooks", json={"url": url}, headers=cloud.headers())
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "WEBHOOK_URL_PRIVATE"
    made = create(cloud)
    r = cloud.http.patch(f"/api/v1/webhooks/{made['id']}", json={"url": url},
                         headers=cloud.headers())
    assert r.status_code == 400 and r.json()["code"] == "WEBHOOK_URL_PRIVATE"


@pytest.mark.parametrize("url", ["ftp://93.184.216.34/x", "not a url", "http:///x",
                                 "http://93.184.216.34:99999/x"])
def test_malformed_targets_are_refused(cloud: Cloud, url: str) -> None:
    r = cloud.http.post("/api/v1/webhooks", json={"url": url}, headers=cloud.headers())
    assert r.status_code == 400 and r.json()["code"] == "WEBHOOK_URL_INVALID"


@pytest.fixture
def local_cloud(sqlite_url: str, tmp_path: Path) -> Iterator[Cloud]:
    """A cloud whose operator allows private targets, as `berth up` does."""
    settings = isolated_settings(cloud={"webhooks_allow_private": True})
    yield from make_cloud(sqlite_url, tmp_path / "data",
                          webhooks=cloud_config("sqlite://", tmp_path, settings).webhooks)


def test_the_operator_may_allow_private_targets(local_cloud: Cloud) -> None:
    assert create(local_cloud, "http://127.0.0.1:9000/x")["url"] == "http://127.0.0.1:9000/x"


def test_rotation_returns_a_new_secret_and_both_sign_during_the_overlap(cloud: Cloud) -> None:
    c = cloud
    made = create(c)
    r = c.http.post(f"/api/v1/webhooks/{made['id']}/rotate-secret", headers=c.headers())
    assert r.status_code == 200, r.text
    new = r.json()["secret"]
    assert new.startswith("whsec_") and new != made["secret"]
    with c.service.db.read() as conn:
        row = conn.execute(select(webhook_endpoints)).mappings().one()
    assert c.service.webhooks.signing_secrets(row, c.clock()) == [new, made["secret"]]
    c.clock.advance(24 * 3600)  # the default overlap ends
    assert c.service.webhooks.signing_secrets(row, c.clock()) == [new]


@pytest.mark.parametrize("body", [{}, {"url": 5}, {"url": PUBLIC, "event_types": "all"},
                                  {"url": PUBLIC, "enabled": "yes"}, {"url": "x" * 2001}])
def test_bad_bodies_are_422(cloud: Cloud, body: dict) -> None:
    r = cloud.http.post("/api/v1/webhooks", json=body, headers=cloud.headers())
    assert r.status_code == 422


def test_webhooks_need_the_service_provider_scope(cloud: Cloud) -> None:
    assert cloud.http.get("/api/v1/webhooks").status_code == 401
    r = cloud.http.get("/api/v1/webhooks", headers=cloud.headers("demo", "tower_access"))
    assert r.status_code == 403


def test_the_local_stack_allows_private_targets(tmp_path: Path) -> None:
    """`berth up` runs receivers on the same machine; an operator's own setting still wins."""
    env = Stack(isolated_settings(data_dir=tmp_path))._env()
    assert env["BERTH_CLOUD_WEBHOOKS_ALLOW_PRIVATE"] == "true"
