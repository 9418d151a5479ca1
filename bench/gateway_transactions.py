"""POST /transactions throughput and latency beside GET /health of the same server, same run.

Starts ``berth gateway serve`` (uvicorn, one process) on a temporary SQLite database with a
500-locker site, drives it with 32 concurrent httpx clients, and prints creates/s, p50/p99
latency, health/s and the ratio creates/health (target >= 0.5). Creates run in rounds that fill
the site to 480 lockers; the releases between rounds are not timed.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

CONCURRENCY = 32
HEALTH_SECONDS = 4.0
CREATE_ROUNDS = 6
ROUND_SIZE = 480
KEY = "bench-key"


def site_yaml(banks: int = 25, per_bank: int = 20) -> dict:
    types = ["small"] * 10 + ["medium"] * 6 + ["large"] * 4
    associations = {n: {"type": types[n - 1], "attributes": ["low" if n > per_bank // 2
                                                             else "high"]}
                    for n in range(1, per_bank + 1)}
    return {
        "name": "bench site",
        "attributes": ["low", "high"],
        "locker_types": [
            {"slug": "small", "name": "Small", "width": 16, "height": 8, "depth": 20},
            {"slug": "medium", "name": "Medium", "width": 16, "height": 16, "depth": 20},
            {"slug": "large", "name": "Large", "width": 20, "height": 30, "depth": 24}],
        "bank_types": [{"key": "bench", "friendly_name": "Bench bank",
                        "associations": associations}],
        "banks": [{"name": f"B{i}", "bank_type": "bench",
                   "controller": {"id": f"bank-{i}", "channels": per_bank}}
                  for i in range(banks)],
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(tmp: Path) -> tuple[subprocess.Popen, str]:
    site = tmp / "site.yaml"
    site.write_text(yaml.safe_dump(site_yaml()))
    port = free_port()
    env = os.environ | {"BERTH_GATEWAY_API_KEY": KEY, "BERTH_DATA_DIR": str(tmp)}
    berth = str(Path(sys.executable).parent / "berth")
    proc = subprocess.Popen([berth, "gateway", "serve", "--port", str(port), "--site", str(site),
                             "--db", f"sqlite:///{tmp / 'bench.db'}", "--no-mdns"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(url + "/health").status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("gateway did not start")


async def health_rate(client: httpx.AsyncClient) -> float:
    count = 0
    stop = time.perf_counter() + HEALTH_SECONDS

    async def worker() -> None:
        nonlocal count
        while time.perf_counter() < stop:
            r = await client.get("/health")
            assert r.status_code == 200
            count += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return count / (time.perf_counter() - start)


PREFERENCES = [{}, {"preferredLockerType": "small", "allowFallback": True},
               {"preferredLockerType": "medium", "preferredAttributes": ["low"],
                "allowFallback": True},
               {"widthInches": 10, "heightInches": 6, "lengthInches": 12}]


async def one_round(client: httpx.AsyncClient, counter: itertools.count,
                    latencies: list[float], statuses: dict[int, int]) -> float:
    """Fill the site with ROUND_SIZE creates (timed), then release them (not timed)."""
    todo = iter(range(ROUND_SIZE))
    created: list[str] = []

    async def worker() -> None:
        for i in todo:
            tid = f"bench-{next(counter)}"
            t0 = time.perf_counter()
            r = await client.post("/transactions",
                                  json={"transactionId": tid, **PREFERENCES[i % 4]})
            latencies.append(time.perf_counter() - t0)
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            if r.status_code == 201:
                created.append(tid)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    elapsed = time.perf_counter() - start
    sem = asyncio.Semaphore(CONCURRENCY)

    async def release(tid: str) -> None:
        async with sem:
            await client.delete(f"/transactions/{tid}")

    await asyncio.gather(*(release(t) for t in created))
    return elapsed


async def create_rounds(client: httpx.AsyncClient) -> tuple[float, list[float], dict[int, int]]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    counter = itertools.count()
    elapsed = 0.0
    for _ in range(CREATE_ROUNDS):
        elapsed += await one_round(client, counter, latencies, statuses)
    return len(latencies) / elapsed, latencies, statuses


async def drive(url: str) -> None:
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": KEY}, limits=limits,
                                 timeout=30) as client:
        await health_rate(client)  # warm-up
        health = await health_rate(client)
        creates, latencies, statuses = await create_rounds(client)
    q = statistics.quantiles(latencies, n=100)
    print(f"500-locker SQLite site (synchronous=FULL), {CONCURRENCY} concurrent clients")
    print(f"GET /health         : {health:8.0f} req/s  (baseline, checks the database)")
    print(f"POST /transactions  : {creates:8.0f} req/s  p50 {q[49] * 1000:.1f} ms  "
          f"p99 {q[98] * 1000:.1f} ms  statuses {statuses}")
    print(f"ratio creates/health: {creates / health:8.2f}  (target >= 0.5)")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="berth-bench-") as tmp:
        proc, url = start_server(Path(tmp))
        try:
            asyncio.run(drive(url))
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
