"""Failed logins have a bounded cost: server-sized argon2, a cap on hashes at once, the same work
for unknown clients, and 429 + Retry-After once a client id or an address fails too often."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from berth.cloud.tables import clients
from tests.cloud.conftest import Cloud, make_cloud

FORM = {"grant_type": "client_credentials"}


class CountingHasher(PasswordHasher):
    """The real argon2 hasher, counting how many verifications run at the same moment."""

    def __init__(self, like: PasswordHasher) -> None:
        super().__init__(time_cost=like.time_cost, memory_cost=like.memory_cost,
                         parallelism=like.parallelism)
        self._lock = threading.Lock()
        self.running = self.peak = self.calls = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        with self._lock:
            self.running += 1
            self.calls += 1
            self.peak = max(self.peak, self.running)
        try:
            return super().verify(hash, password)
        finally:
            with self._lock:
                self.running -= 1


def counting(cloud: Cloud) -> CountingHasher:
    hasher = CountingHasher(cloud.service.ctx.hasher.argon2)
    cloud.service.ctx.hasher.argon2 = hasher
    return hasher


@pytest.fixture
def limited(sqlite_url: str, tmp_path: Path) -> Iterator[Cloud]:
    """A cloud allowing 3 failures per client id and 5 per address, per minute."""
    yield from make_cloud(sqlite_url, tmp_path / "data", login_failures_per_client="3/minute",
                          login_failures_per_address="5/minute")


def custom_cloud(
    sqlite_url: str, tmp_path: Path, **config: Any
) -> contextlib.AbstractContextManager[Cloud]:
    """A cloud with other CloudConfig values (limits, hashing caps)."""
    return contextlib.contextmanager(make_cloud)(sqlite_url, tmp_path / "data", **config)


async def flood(app: Any, n: int) -> list[int]:
    """``n`` bad logins at once (4 client ids), as status codes."""
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cloud") as http:
        answers = await asyncio.gather(*(
            http.post("/oauth/token", data=FORM | {"client_id": f"berth-bad{i % 4}",
                                                   "client_secret": f"guess{i}"})
            for i in range(n)))
    return [a.status_code for a in answers]


def from_address(cloud: Cloud, host: str) -> TestClient:
    """Another HTTP client on the same running app, seen as coming from ``host``."""
    return TestClient(cloud.http.app, client=(host, 40000))


def login(http: TestClient | httpx.Client, creds: dict[str, str], **kw: Any) -> httpx.Response:
    return http.post("/oauth/token", data=FORM | creds, **kw)


def stored_hash(cloud: Cloud, client_id: str) -> str:
    with cloud.service.db.read() as conn:
        return conn.execute(select(clients.c.secret_hash)
                            .where(clients.c.client_id == client_id)).scalar_one()


def test_argon2_is_sized_for_a_server(cloud: Cloud) -> None:
    """OWASP's argon2id: 19 MiB, 2 passes, 1 lane (argon2-cffi's default is 64 MiB, t=3, p=4)."""
    argon2 = cloud.service.ctx.hasher.argon2
    assert (argon2.memory_cost, argon2.time_cost, argon2.parallelism) == (19 * 1024, 2, 1)
    assert "$m=19456,t=2,p=1$" in stored_hash(cloud, cloud.creds("demo")["client_id"])


def test_old_hashes_still_verify_and_are_replaced_on_login(cloud: Cloud) -> None:
    creds = cloud.creds("demo")
    old = PasswordHasher().hash(creds["client_secret"])  # the former 64 MiB default
    with cloud.service.db.write() as conn:
        conn.execute(update(clients).where(clients.c.client_id == creds["client_id"])
                     .values(secret_hash=old))
    assert login(cloud.http, creds).status_code == 200
    fresh = stored_hash(cloud, creds["client_id"])
    assert fresh != old and "$m=19456,t=2,p=1$" in fresh
    assert login(cloud.http, creds).status_code == 200


def test_unknown_client_costs_the_same_verification(cloud: Cloud) -> None:
    hasher = counting(cloud)
    r = login(cloud.http, {"client_id": "berth-nobody", "client_secret": "x"})
    assert r.status_code == 401 and hasher.calls == 1
    r = login(cloud.http, cloud.creds("demo") | {"client_secret": "wrong"})
    assert r.status_code == 401 and hasher.calls == 2


def test_64_concurrent_bad_logins_never_hash_more_than_the_cap_at_once(
    sqlite_url: str, tmp_path: Path
) -> None:
    with custom_cloud(sqlite_url, tmp_path, hash_concurrency=2, hash_queue=64, hash_wait=120,
                      login_failures_per_client="1000/minute",
                      login_failures_per_address="1000/minute") as cloud:
        hasher = counting(cloud)
        statuses = asyncio.run(flood(cloud.http.app, 64))
        assert set(statuses) <= {401, 503} and statuses.count(401) >= 1
        assert 1 <= hasher.peak <= 2
        assert hasher.calls == statuses.count(401)


def test_a_full_hashing_queue_answers_503_with_retry_after(sqlite_url: str,
                                                          tmp_path: Path) -> None:
    with custom_cloud(sqlite_url, tmp_path, hash_concurrency=1, hash_queue=0) as cloud:
        hasher = counting(cloud)
        with cloud.service.ctx.hasher.slot():  # someone else's check is running
            r = login(cloud.http, cloud.creds("demo"))
        assert r.status_code == 503 and r.json()["code"] == "BUSY"
        assert r.headers["Retry-After"] == "1" and hasher.calls == 0
        assert login(cloud.http, cloud.creds("demo")).status_code == 200


def test_failures_per_client_id_give_429_with_retry_after(limited: Cloud) -> None:
    demo, other = limited.creds("demo"), limited.creds("other")
    wrong = demo | {"client_secret": "wrong"}
    assert [login(limited.http, wrong).status_code for _ in range(3)] == [401] * 3
    hasher = counting(limited)
    blocked = login(limited.http, wrong)
    assert blocked.status_code == 429 and blocked.headers["Retry-After"] == "60"
    assert blocked.json()["code"] == "TOO_MANY_ATTEMPTS"
    # the right secret waits too (else guessing could go on), from any address; no hashing
    assert login(limited.http, demo).status_code == 429
    assert login(from_address(limited, "203.0.113.9"), demo).status_code == 429
    assert hasher.calls == 0
    assert login(limited.http, other).status_code == 200  # another client is not affected
    limited.clock.advance(30)
    assert login(limited.http, demo).headers["Retry-After"] == "30"
    limited.clock.advance(31)
    assert login(limited.http, demo).status_code == 200


def test_failures_per_address_give_429_with_retry_after(limited: Cloud) -> None:
    attacker = from_address(limited, "198.51.100.7")
    guesses = [login(attacker, {"client_id": f"berth-guess{i}", "client_secret": "x"})
               for i in range(5)]
    assert [g.status_code for g in guesses] == [401] * 5
    blocked = login(attacker, limited.creds("demo"))
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) == 60
    assert login(limited.http, limited.creds("demo")).status_code == 200  # other address


def test_successful_logins_do_not_use_up_the_budget(limited: Cloud) -> None:
    demo = limited.creds("demo")
    assert [login(limited.http, demo).status_code for _ in range(6)] == [200] * 6
    wrong = demo | {"client_secret": "wrong"}
    assert [login(limited.http, wrong).status_code for _ in range(4)] == [401] * 3 + [429]


def test_client_secret_basic_is_accepted(cloud: Cloud) -> None:
    demo = cloud.creds("demo")
    auth = httpx.BasicAuth(demo["client_id"], demo["client_secret"])
    r = cloud.http.post("/oauth/token", data=FORM | {"scope": "tower_access"}, auth=auth)
    assert r.status_code == 200 and r.json()["scope"] == "tower_access"
    # RFC 6749 §2.3.1: both parts are form-urlencoded before base64 ("-" as %2D here)
    encoded = httpx.BasicAuth(demo["client_id"].replace("-", "%2D"), demo["client_secret"])
    r = cloud.http.post("/realms/berth/protocol/openid-connect/token", data=FORM, auth=encoded)
    assert r.status_code == 200
    # the same values in both places are fine
    assert cloud.http.post("/oauth/token", data=FORM | demo, auth=auth).status_code == 200


def test_client_secret_basic_refusals(cloud: Cloud) -> None:
    demo, other = cloud.creds("demo"), cloud.creds("other")
    auth = httpx.BasicAuth(demo["client_id"], demo["client_secret"])
    both = cloud.http.post("/oauth/token", data=FORM | {"client_id": other["client_id"]},
                           auth=auth)
    assert both.status_code == 400 and both.json()["code"] == "INVALID_REQUEST"
    wrong = cloud.http.post("/oauth/token", data=FORM,
                            auth=httpx.BasicAuth(demo["client_id"], "wrong"))
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Basic")
    for header in ("Basic !!notbase64", "Basic bm9jb2xvbg==", "Basic OnNlY3JldA==", "Basic"):
        r = cloud.http.post("/oauth/token", data=FORM, headers={"Authorization": header})
        assert r.status_code == 401, header
        assert r.json()["code"] == "INVALID_CLIENT"
        assert r.headers["WWW-Authenticate"].startswith("Basic")


def test_client_secret_basic_is_in_the_openapi_document(cloud: Cloud) -> None:
    doc = cloud.http.get("/openapi.json").json()
    schemes = doc["components"]["securitySchemes"]
    basic = [name for name, s in schemes.items() if s.get("scheme") == "basic"]
    assert basic
    assert {basic[0]: []} in doc["paths"]["/oauth/token"]["post"]["security"]


def test_limits_come_from_settings_and_bad_ones_are_refused(tmp_path: Path) -> None:
    from pydantic import ValidationError

    from berth.cloud.config import CloudConfig
    from berth.kit.settings import Settings

    st = Settings(data_dir=tmp_path, cloud={"login_failures_per_client": "5/hour",
                                            "hash_concurrency": 3})
    config = CloudConfig.from_settings(st)
    assert (config.login_failures_per_client, config.hash_concurrency) == ("5/hour", 3)
    with pytest.raises(ValidationError, match="lots"):
        Settings(tower={"open_refusals_per_address": "lots"})


def test_waiting_for_a_hashing_slot_never_holds_the_write_lock(sqlite_url: str,
                                                               tmp_path: Path) -> None:
    """A new partner's secret is hashed before its write transaction: while it waits for a slot
    (a login flood holds them), every other write goes on."""
    with custom_cloud(sqlite_url, tmp_path, hash_concurrency=1, hash_queue=1,
                      hash_wait=120) as cloud:
        operator, partner = cloud.headers("operator", "operator"), cloud.headers()
        answers: list[httpx.Response] = []
        with cloud.service.ctx.hasher.slot():  # the only slot is busy
            creating = threading.Thread(target=lambda: answers.append(cloud.http.post(
                "/api/v1/admin/partners", json={"name": "acme"}, headers=operator)))
            creating.start()
            reserve = cloud.http.post(f"{cloud.lockers_url()}/{cloud.locker_ids()[0]}"
                                      "/reservations", json={"duration": 300}, headers=partner)
            assert reserve.status_code == 201, reserve.text
            assert creating.is_alive() and not answers  # still waiting for the slot
        creating.join(timeout=60)
        assert answers[0].status_code == 201
