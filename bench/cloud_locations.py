"""Location search at fleet size: ``closest`` and ``in-area`` among 100,000 locations, against the
same server's ``GET /locations/{id}/lockers`` for one location (one indexed lookup), same run.

The locations are spread over a 8 x 9 degree box (about Germany), each holding one tower assigned
to the partner, so the partner filter holds everywhere and only the (latitude, longitude) index
keeps a search small: a ratio near 1 means the search costs what a single-location read does.
"""

from __future__ import annotations

import random
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
from berth.cloud.tables import location_towers, locations, lockers, tower_partners, towers
from berth.kit.settings import Settings

N_LOCATIONS = 100_000
CHUNK = 20_000


def bulk_locations(service: CloudServices, partner_id: int, n: int = N_LOCATIONS,
                   first_id: int = 1) -> int:
    """Insert ``n`` locations, one assigned tower each; 20 lockers at the first. Returns its id
    (also used by the PostgreSQL query-plan test)."""
    now, rng = datetime.now(UTC), random.Random(7)
    with service.db.write() as conn:
        for start in range(first_id, first_id + n, CHUNK):
            ids = range(start, min(start + CHUNK, first_id + n))
            conn.execute(insert(locations), [
                dict(id=i, name=f"loc {i}", latitude=rng.uniform(47, 55),
                     longitude=rng.uniform(6, 15), street="", postal_code="", city="",
                     country="DE", opening_hours=None, timezone="Europe/Berlin",
                     created_at=now) for i in ids])
            conn.execute(insert(towers), [
                dict(id=f"{i:016x}", name=f"t{i}", public_key=b"\0" * 32,
                     private_key_sealed=b"", created_at=now) for i in ids])
            conn.execute(insert(location_towers),
                         [dict(tower_id=f"{i:016x}", location_id=i) for i in ids])
            conn.execute(insert(tower_partners),
                         [dict(tower_id=f"{i:016x}", partner_id=partner_id) for i in ids])
        spec = LockerCreate(name="x")
        conn.execute(insert(lockers), [{**locker_values(f"{first_id:016x}", spec, now),
                                        "name": str(i)} for i in range(1, 21)])
    return first_id


def latency(call: Callable[[], object], n: int = 300) -> tuple[float, float]:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        call()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95)]


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="berth-bench-") as tmp:
        config = CloudConfig.from_settings(Settings(data_dir=Path(tmp)), sweep_interval=0)
        service = build_service(config)
        creds = service.partners.create_partner("bench")
        t0 = time.perf_counter()
        location_id = bulk_locations(service, creds.partner_id or 0)
        load_s = time.perf_counter() - t0
        with TestClient(create_app(config, service)) as http:
            token = http.post("/oauth/token", data={
                "grant_type": "client_credentials", "client_id": creds.client_id,
                "client_secret": creds.client_secret, "scope": "service_provider"}).json()
            h = {"Authorization": f"Bearer {token['access_token']}"}
            rng = random.Random(11)

            def get(url: str, **params: object) -> int:
                r = http.get(url, params=params, headers=h)
                assert r.status_code == 200, r.text
                return len(r.json())

            def closest() -> int:
                return get("/api/v1/locations/closest", lat=rng.uniform(48, 54),
                           lon=rng.uniform(7, 14), radius=5000)

            def in_area() -> int:
                lat, lon = rng.uniform(48, 54), rng.uniform(7, 14)
                return get("/api/v1/locations/in-area", start=f"{lat},{lon}",
                           end=f"{lat + 0.05},{lon + 0.08}")

            lockers_url = f"/api/v1/locations/{location_id}/lockers"
            assert get(lockers_url) == 20
            found = statistics.mean(closest() for _ in range(50))
            base = latency(lambda: get(lockers_url))
            near = latency(closest)
            area = latency(in_area)
        service.db.dispose()
    print(f"{N_LOCATIONS:,} locations bulk-loaded in {load_s:.1f} s; closest finds "
          f"{found:.1f} within 5 km on average")
    print(f"GET /locations/{{id}}/lockers  p50 {base[0]:6.2f} ms  p95 {base[1]:6.2f} ms"
          "  (baseline)")
    print(f"GET /locations/closest       p50 {near[0]:6.2f} ms  p95 {near[1]:6.2f} ms"
          f"  ratio {near[0] / base[0]:.2f}")
    print(f"GET /locations/in-area       p50 {area[0]:6.2f} ms  p95 {area[1]:6.2f} ms"
          f"  ratio {area[0] / base[0]:.2f}")


if __name__ == "__main__":
    main()
