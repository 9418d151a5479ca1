"""Cloud figures: token issue and offline verify rates, and GET .../lockers latency vs fleet size.

The lockers list of one tower is timed in a 10-tower fleet and in a 10,000-tower / 200,000-locker
fleet in the same run; the ratio should stay near 1 (one indexed query, no per-locker queries).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import insert

from berth.cloud.app import build_service, create_app
from berth.cloud.config import CloudConfig
from berth.cloud.lockers.schemas import LockerCreate
from berth.cloud.lockers.service import locker_values
from berth.cloud.services import CloudServices
from berth.cloud.tables import lockers, tower_partners, towers
from berth.domain.tokens import TokenClaims, TokenKind, sign_token, verify
from berth.kit.settings import Settings

LOCKERS_PER_TOWER = 20


def rate(fn: Callable[[], object], seconds: float = 1.5) -> float:
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - start)


def bulk_fleet(service: CloudServices, n_towers: int, partner_id: int) -> str:
    """Insert ``n_towers`` towers of 20 lockers with executemany; returns one assigned tower."""
    now = datetime.now(UTC)
    spec = LockerCreate(name="x")
    ids = [f"{i:016x}" for i in range(1, n_towers + 1)]
    with service.db.write() as conn:
        conn.execute(
            insert(towers),
            [
                dict(id=t, name=t, public_key=b"\0" * 32, private_key_sealed=b"", created_at=now)
                for t in ids
            ],
        )
        rows = []
        for t in ids:
            base = locker_values(t, spec, now)
            rows.extend({**base, "name": str(n + 1)} for n in range(LOCKERS_PER_TOWER))
            if len(rows) >= 20_000:
                conn.execute(insert(lockers), rows)
                rows = []
        if rows:
            conn.execute(insert(lockers), rows)
        conn.execute(
            insert(tower_partners),
            [dict(tower_id=t, partner_id=partner_id) for t in ids[:: max(1, n_towers // 10)]],
        )
    return ids[n_towers // 2 - (n_towers // 2) % max(1, n_towers // 10)]


def lockers_latency(n_towers: int, root: Path) -> tuple[float, float, float]:
    data = root / f"fleet{n_towers}"
    config = CloudConfig.from_settings(Settings(data_dir=data), sweep_interval=0)
    service = build_service(config)
    creds = service.partners.create_partner("bench")
    start = time.perf_counter()
    tower_id = bulk_fleet(service, n_towers, creds.partner_id or 0)
    load_s = time.perf_counter() - start
    with TestClient(create_app(config, service)) as http:
        token = http.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": creds.client_id,
                "client_secret": creds.client_secret,
                "scope": "service_provider",
            },
        ).json()
        h = {"Authorization": f"Bearer {token['access_token']}"}
        url = f"/api/v1/towers/{tower_id}/lockers"
        assert len(http.get(url, headers=h).json()) == LOCKERS_PER_TOWER
        samples = []
        for _ in range(300):
            t0 = time.perf_counter()
            http.get(url, headers=h)
            samples.append((time.perf_counter() - t0) * 1000)
    service.db.dispose()
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95)], load_s


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="berth-bench-") as tmp:
        root = Path(tmp)
        service = build_service(
            CloudConfig.from_settings(Settings(data_dir=root / "tok"),
                                      db_url=f"sqlite:///{root / 'tok.db'}", sweep_interval=0)
        )
        key = service.ctx.keyring.current
        claims = TokenClaims(
            "0011223344556677", 1, TokenKind.DROPOFF, "ab" * 16, 0, 2**31, key.key_id, 0
        )
        signed = sign_token(claims, key)
        keys = service.ctx.keyring.public_keys()
        sign_rate = rate(lambda: sign_token(claims, key))
        verify_rate = rate(
            lambda: verify(signed.payload, signed.payload_auth, "0011223344556677", 1000, keys, 0)
        )
        creds = service.partners.create_partner("p")
        tower = service.towers.create_tower("t")
        locker = service.lockers.add_lockers(tower.id, [LockerCreate(name="1")])[0]
        service.towers.assign_tower(tower.id, creds.partner_id or 0)
        pid = creds.partner_id or 0
        issue_rate = rate(
            lambda: service.tokens.issue_token(pid, tower.id, locker.id, TokenKind.DROPOFF, 3000)
        )
        print(f"token sign (pure)            {sign_rate:9.0f} /s")
        print(f"token issue (service+DB)     {issue_rate:9.0f} /s  (SQLite, synchronous=FULL)")
        print(f"offline verify (pure)        {verify_rate:9.0f} /s")
        small = lockers_latency(10, root)
        big = lockers_latency(10_000, root)
        print(f"GET lockers, 10 towers       p50 {small[0]:6.2f} ms  p95 {small[1]:6.2f} ms")
        print(
            f"GET lockers, 10,000 towers   p50 {big[0]:6.2f} ms  p95 {big[1]:6.2f} ms"
            f"  (200,000 lockers bulk-loaded in {big[2]:.1f} s)"
        )
        print(f"ratio big/small p50          {big[0] / small[0]:9.2f}")


if __name__ == "__main__":
    main()
