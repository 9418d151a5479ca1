"""A secret verified recently skips argon2 on the client's next token request, without keeping
anything that gives the secret back; a wrong, rotated or removed one always pays the full check."""

from __future__ import annotations

from pathlib import Path

from argon2 import PasswordHasher
from sqlalchemy import delete, update

from berth.cloud.auth.credentials import VerifiedSecrets
from berth.cloud.tables import clients
from tests.cloud.auth.test_login_abuse import counting, custom_cloud, login
from tests.cloud.conftest import Cloud


def test_a_recently_verified_secret_skips_argon2_until_the_ttl_passes(cloud: Cloud) -> None:
    hasher = counting(cloud)
    demo = cloud.creds("demo")
    assert [login(cloud.http, demo).status_code for _ in range(5)] == [200] * 5
    assert hasher.calls == 1
    cloud.clock.advance(61)  # the default TTL is 60 s
    assert login(cloud.http, demo).status_code == 200 and hasher.calls == 2


def test_a_wrong_secret_pays_the_full_check_and_counts_as_a_failure(
    sqlite_url: str, tmp_path: Path
) -> None:
    with custom_cloud(sqlite_url, tmp_path, login_failures_per_client="2/minute") as cloud:
        demo = cloud.creds("demo")
        assert login(cloud.http, demo).status_code == 200
        hasher = counting(cloud)
        wrong = demo | {"client_secret": demo["client_secret"] + "x"}
        assert [login(cloud.http, wrong).status_code for _ in range(3)] == [401, 401, 429]
        assert hasher.calls == 2
        assert login(cloud.http, demo).status_code == 429  # the limit holds for everyone


def test_a_rotated_or_removed_secret_never_matches_the_remembered_one(cloud: Cloud) -> None:
    demo = cloud.creds("demo")
    assert login(cloud.http, demo).status_code == 200
    hasher = counting(cloud)
    rotated = PasswordHasher(memory_cost=19 * 1024, time_cost=2, parallelism=1).hash("new-one")
    with cloud.service.db.write() as conn:  # as another process sharing the database would
        conn.execute(update(clients).where(clients.c.client_id == demo["client_id"])
                     .values(secret_hash=rotated))
    assert login(cloud.http, demo).status_code == 401 and hasher.calls == 1
    assert login(cloud.http, demo | {"client_secret": "new-one"}).status_code == 200
    with cloud.service.db.write() as conn:
        conn.execute(delete(clients).where(clients.c.client_id == demo["client_id"]))
    assert login(cloud.http, demo | {"client_secret": "new-one"}).status_code == 401


def test_ttl_zero_always_hashes(sqlite_url: str, tmp_path: Path) -> None:
    with custom_cloud(sqlite_url, tmp_path, secret_cache_ttl=0) as cloud:
        hasher = counting(cloud)
        assert [login(cloud.http, cloud.creds("demo")).status_code for _ in range(3)] == [200] * 3
        assert hasher.calls == 3


def test_memory_holds_a_keyed_hash_never_the_secret() -> None:
    one, two = VerifiedSecrets(60), VerifiedSecrets(60)
    secret = "s3cret-" * 6
    for cache in (one, two):
        cache.remember("berth-a", secret, "$argon2id$stored", 0)
    kept = [mac for mac, _ in (one._entries["berth-a"], two._entries["berth-a"])]
    assert secret.encode() not in kept[0] and len(kept[0]) == 32
    assert kept[0] != kept[1]  # a per-process key: the same secret leaves different traces
    assert one.known("berth-a", secret, "$argon2id$stored", 59)
    assert not one.known("berth-a", secret, "$argon2id$stored", 60)
    assert not one.known("berth-a", secret, "$argon2id$other", 1)
    assert not one.known("berth-b", secret, "$argon2id$stored", 1)


def test_the_cache_keeps_at_most_size_clients() -> None:
    cache = VerifiedSecrets(60, size=2)
    for cid in ("a", "b", "c"):
        cache.remember(cid, "x", "h", 0)
    assert not cache.known("a", "x", "h", 1)
    assert cache.known("b", "x", "h", 1) and cache.known("c", "x", "h", 1)
