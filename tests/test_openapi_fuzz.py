"""Schemathesis against both OpenAPI documents: no server error, no undocumented status.

Each app runs for real (uvicorn on a free port, lifespan included) on SQLite; every call is
authenticated (the gateway's API key, a cloud bearer token with the scope the path needs) so the
generated input reaches the handlers. Examples per operation are bounded to keep ``make test``
within minutes on two cores; raise ``BERTH_FUZZ_EXAMPLES`` for a deeper run.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
import schemathesis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from berth.cloud.app import build_service
from berth.cloud.app import create_app as create_cloud
from berth.cloud.seed import seed_demo
from berth.domain.tokens import SigningKey
from berth.gateway.app import create_app as create_gateway
from berth.tower.identity import TowerIdentity
from tests.gateway.conftest import API_KEY, make_config
from tests.support.configs import cloud_config, isolated_settings
from tests.support.serving import serving

EXAMPLES = int(os.environ.get("BERTH_FUZZ_EXAMPLES", "25"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=list(HealthCheck))


def _identity() -> TowerIdentity:
    return TowerIdentity("00aa11bb22cc33dd", Ed25519PrivateKey.generate(),
                         {"k1": SigningKey.generate("k1").public}, lockers={901: (7, 0)})


@pytest.fixture(scope="module")
def gateway_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo site, provisioned as a tower so that ``/tower/*`` reaches its handlers."""
    data = tmp_path_factory.mktemp("fuzz-gateway")
    config = make_config(f"sqlite:///{data / 'gateway.db'}", tower=_identity(),
                         settings=isolated_settings(tower={"sync_interval": 3600.0}))
    with serving(create_gateway(config)) as url:
        yield url


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """The cloud with its demo data, and a bearer token per scope."""
    data = tmp_path_factory.mktemp("fuzz-cloud")
    config = cloud_config(db_url=f"sqlite:///{data / 'cloud.db'}", data_dir=Path(data),
                         access_token_ttl=3600, sweep_interval=0)
    service = build_service(config)
    seed = seed_demo(service)
    demo, op = seed["partners"]["demo"], seed["operator"]
    issue = service.auth.issue_access_token
    tokens = {
        scope: issue(c["client_id"], c["client_secret"], scope).access_token
        for scope, c in (("service_provider", demo), ("tower_access", demo), ("operator", op))
    }
    with serving(create_cloud(config, service)) as url:
        yield url, tokens


def _documents() -> tuple[dict[str, Any], dict[str, Any]]:
    """Both OpenAPI documents, built without starting anything (collection needs them)."""
    unused = f"sqlite:///{Path(tempfile.gettempdir()) / 'berth-openapi-unused.db'}"
    gateway = create_gateway(make_config(unused, tower=_identity()))
    cloud_app = create_cloud(cloud_config(db_url="sqlite://", data_dir=Path("unused")),
                             services=cast(Any, SimpleNamespace(bus=None)))
    return gateway.openapi(), cloud_app.openapi()


GATEWAY_DOC, CLOUD_DOC = _documents()
gateway_api = schemathesis.openapi.from_dict(GATEWAY_DOC)
cloud_api = schemathesis.openapi.from_dict(CLOUD_DOC)


def cloud_scope(path: str) -> str:
    if path.startswith("/sdk/"):
        return "tower_access"
    if path.startswith("/api/v1/admin"):
        return "operator"
    return "service_provider"


@gateway_api.parametrize()
@FUZZ
def test_gateway_openapi(case: Any, gateway_url: str) -> None:
    case.call_and_validate(base_url=gateway_url, headers={"X-API-Key": API_KEY}, checks=CHECKS,
                           allow_redirects=False)


@cloud_api.parametrize()
@FUZZ
def test_cloud_openapi(case: Any, cloud: tuple[str, dict[str, str]]) -> None:
    url, tokens = cloud
    bearer = {"Authorization": f"Bearer {tokens[cloud_scope(case.path)]}"}
    case.call_and_validate(base_url=url, headers=bearer, checks=CHECKS)


def _wrong_methods(document: dict[str, Any]) -> list[tuple[str, str]]:
    """Each documented path with a method no route has there (path parameters filled with 1).

    ``GET /lockers/open-all`` is left out: it is ``GET /lockers/{locker_id}`` with a bad id."""
    templates = {path: re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$")
                 for path in document["paths"]}
    calls = []
    for path in document["paths"]:
        concrete = re.sub(r"\{[^}]+\}", "1", path)
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            routed = any(method.lower() in document["paths"][other] and pattern.match(path)
                         for other, pattern in templates.items())
            if not routed:
                calls.append((method, concrete))
    return calls


def test_a_wrong_method_is_a_documented_405_everywhere(
        gateway_url: str, cloud: tuple[str, dict[str, str]]) -> None:
    for method, path in _wrong_methods(GATEWAY_DOC):
        r = httpx.request(method, gateway_url + path, headers={"X-API-Key": API_KEY})
        assert r.status_code == 405, (method, path, r.status_code, r.text)
        assert r.json()["error"] == "METHOD_NOT_ALLOWED" and r.headers["allow"], r.text
    url, tokens = cloud
    for method, path in _wrong_methods(CLOUD_DOC):
        bearer = {"Authorization": f"Bearer {tokens[cloud_scope(path)]}"}
        r = httpx.request(method, url + path, headers=bearer)
        assert r.status_code == 405, (method, path, r.status_code, r.text)
        assert r.json()["code"] == "METHOD_NOT_ALLOWED" and r.headers["allow"], r.text
