"""Client credentials, access tokens, and what missing/forged/expired/wrong-scope tokens get."""

from __future__ import annotations

import jwt
import pytest
from sqlalchemy import delete, select

from berth.cloud.tables import clients
from tests.cloud.conftest import Cloud

TOKEN_PATHS = ["/oauth/token", "/realms/berth/protocol/openid-connect/token"]


@pytest.mark.parametrize("path", TOKEN_PATHS)
def test_token_response_shape(cloud: Cloud, path: str) -> None:
    r = cloud.http.post(
        path,
        data={
            "grant_type": "client_credentials",
            "scope": "service_provider",
            **cloud.creds("demo"),
        },
    )
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300
    assert body["refresh_token"] is None and "refresh_token" in body
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == cloud.creds("demo")["client_id"]
    assert claims["scope"] == "service_provider"
    assert claims["exp"] - claims["iat"] == 300 and claims["jti"]


def test_secret_is_stored_hashed(cloud: Cloud) -> None:
    creds = cloud.creds("demo")
    with cloud.service.db.read() as conn:
        stored = conn.execute(
            select(clients.c.secret_hash).where(clients.c.client_id == creds["client_id"])
        ).scalar_one()
    assert creds["client_secret"] not in stored and stored.startswith("$argon2")


@pytest.mark.parametrize(
    ("form", "status", "code"),
    [
        ({"client_secret": "wrong"}, 401, "INVALID_CLIENT"),
        ({"client_id": "berth-nobody"}, 401, "INVALID_CLIENT"),
        ({"grant_type": "password"}, 400, "UNSUPPORTED_GRANT_TYPE"),
        ({"scope": "operator"}, 400, "INVALID_SCOPE"),
    ],
)
def test_bad_token_requests(cloud: Cloud, form: dict[str, str], status: int, code: str) -> None:
    data = {"grant_type": "client_credentials", **cloud.creds("demo"), **form}
    r = cloud.http.post("/oauth/token", data=data)
    assert r.status_code == status
    assert r.json()["code"] == code


def test_missing_form_field_is_422(cloud: Cloud) -> None:
    r = cloud.http.post("/oauth/token", data=cloud.creds("demo"))  # no grant_type
    assert r.status_code == 422 and isinstance(r.json()["detail"], list)


def test_missing_credentials_are_401_inviting_basic(cloud: Cloud) -> None:
    """Credentials may come in the form or in HTTP Basic: with neither, the client is unknown."""
    r = cloud.http.post("/oauth/token", data={"grant_type": "client_credentials"})
    assert r.status_code == 401 and r.json()["code"] == "INVALID_CLIENT"
    assert r.headers["WWW-Authenticate"].startswith("Basic")


def test_no_scope_asked_gives_all_allowed(cloud: Cloud) -> None:
    r = cloud.http.post(
        "/oauth/token", data={"grant_type": "client_credentials", **cloud.creds("demo")}
    )
    assert r.json()["scope"] == "service_provider tower_access"


def test_missing_token_is_401(cloud: Cloud) -> None:
    r = cloud.http.get("/api/v1/towers")
    assert r.status_code == 401
    assert r.json()["code"] == "NOT_AUTHENTICATED"
    assert r.headers["www-authenticate"] == "Bearer"


def test_forged_token_is_401(cloud: Cloud) -> None:
    claims = jwt.decode(cloud.headers()["Authorization"][7:], options={"verify_signature": False})
    forged = jwt.encode(claims, "not our secret", algorithm="HS256")
    for bad in (forged, "garbage", jwt.encode(claims, "", algorithm="none")):
        r = cloud.http.get("/api/v1/towers", headers={"Authorization": f"Bearer {bad}"})
        assert r.status_code == 401
        assert r.json()["code"] == "TOKEN_INVALID"


def test_expired_token_is_401(cloud: Cloud) -> None:
    h = cloud.headers()
    assert cloud.http.get("/api/v1/towers", headers=h).status_code == 200
    cloud.clock.advance(301)
    r = cloud.http.get("/api/v1/towers", headers=h)
    assert r.status_code == 401 and r.json()["code"] == "TOKEN_EXPIRED"


def test_token_of_unknown_client_is_401(cloud: Cloud) -> None:
    now = int(cloud.clock().timestamp())
    token = jwt.encode(
        {"sub": "berth-ghost", "scope": "service_provider", "iat": now, "exp": now + 300},
        cloud.service.ctx.jwt_key,
        algorithm="HS256",
    )
    r = cloud.http.get("/api/v1/towers", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


@pytest.mark.parametrize(
    ("who", "scope", "method", "path"),
    [
        ("demo", "tower_access", "GET", "/api/v1/towers"),
        ("demo", "service_provider", "GET", "/sdk/v1/towers/{t}/commands"),
        ("demo", "service_provider", "GET", "/api/v1/admin/towers"),
        ("operator", "operator", "GET", "/api/v1/towers"),
    ],
)
def test_wrong_scope_is_403(cloud: Cloud, who: str, scope: str, method: str, path: str) -> None:
    r = cloud.http.request(method, path.format(t=cloud.tower_id), headers=cloud.headers(who, scope))
    assert r.status_code == 403
    assert r.json()["code"] == "INSUFFICIENT_SCOPE"


def test_test_token_echoes_the_caller(cloud: Cloud) -> None:
    r = cloud.http.post("/api/v1/login/test-token", headers=cloud.headers("demo", "tower_access"))
    assert r.json() == {
        "client_id": cloud.creds("demo")["client_id"],
        "partner_id": 1,
        "partner_name": "demo",
        "scopes": ["tower_access"],
    }
    r = cloud.http.post("/api/v1/login/test-token", headers=cloud.headers("operator", "operator"))
    assert r.json()["partner_id"] is None and r.json()["scopes"] == ["operator"]


def test_a_removed_client_is_refused_within_the_client_cache_ttl(cloud: Cloud) -> None:
    """Authorization reads a token's client at most every 5 s (no query per request)."""
    headers = cloud.headers()
    assert cloud.http.get("/api/v1/towers", headers=headers).status_code == 200
    with cloud.service.db.write() as conn:
        conn.execute(delete(clients).where(clients.c.client_id == cloud.creds("demo")["client_id"]))
    assert cloud.http.get("/api/v1/towers", headers=headers).status_code == 200  # cached
    cloud.clock.advance(6)
    r = cloud.http.get("/api/v1/towers", headers=headers)
    assert r.status_code == 401 and r.json()["code"] == "TOKEN_INVALID"
