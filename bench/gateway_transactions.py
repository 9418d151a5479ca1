"""POST /transactions throughput and latency beside GET /health of the same server, same run.

Starts ``berth gateway serve`` (uvicorn, one process) on a temporary SQLite database with a
500-locker site and drives it with 32 concurrent clients: first httpx async clients, then a lean
keep-alive HTTP/1.1 client on raw asyncio streams (httpx itself costs more CPU than the server on
a 2-core machine, which hides the server's own capacity). Prints creates/s, p50/p99 latency,
health/s and the ratio creates/health (target >= 0.5) for each. Creates run in rounds that fill
the site to 480 lockers; the releases between rounds are not timed.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import yaml

CONCURRENCY = 32
HEALTH_SECONDS = 3.0
CREATE_ROUNDS = 6
ROUND_SIZE = 480
KEY = "bench-key"
PREFERENCES = [{}, {"preferredLockerType": "small", "allowFallback": True},
               {"preferredLockerType": "medium", "preferredAttributes": ["low"],
                "allowFallback": True},
               {"widthInches": 10, "heightInches": 6, "lengthInches": 12}]

# one client connection: (method, path, json body or None) -> (status, body bytes)
Send = Callable[[str, str, dict | None], Awaitable[tuple[int, bytes]]]


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


def start_server(tmp: Path) -> tuple[subprocess.Popen, int]:
    site = tmp / "site.yaml"
    site.write_text(yaml.safe_dump(site_yaml()))
    port = free_port()
    env = os.environ | {"BERTH_GATEWAY_API_KEY": KEY, "BERTH_DATA_DIR": str(tmp)}
    berth = str(Path(sys.executable).parent / "berth")
    proc = subprocess.Popen([berth, "gateway", "serve", "--port", str(port), "--site", str(site),
                             "--db", f"sqlite:///{tmp / 'bench.db'}", "--no-mdns"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                return proc, port
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("gateway did not start")


class RawConnection:
    """A minimal keep-alive HTTP/1.1 client: just enough for this benchmark's requests."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, method: str, path: str, body: dict | None) -> tuple[int, bytes]:
        if self.reader is None or self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        data = json.dumps(body).encode() if body is not None else b""
        self.writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {KEY}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode()
            + data)
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return status, await self.reader.readexactly(length) if length else b""

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def health_rate(senders: list[Send]) -> float:
    count = 0
    stop = time.perf_counter() + HEALTH_SECONDS

    async def worker(send: Send) -> None:
        nonlocal count
        while time.perf_counter() < stop:
            status, _ = await send("GET", "/health", None)
            assert status == 200
            count += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker(s) for s in senders))
    return count / (time.perf_counter() - start)


async def one_round(senders: list[Send], counter: itertools.count, latencies: list[float],
                    statuses: dict[int, int]) -> float:
    """Fill the site with ROUND_SIZE creates (timed), then release them (not timed)."""
    todo = iter(range(ROUND_SIZE))
    created: list[str] = []

    async def worker(send: Send) -> None:
        for i in todo:
            tid = f"bench-{next(counter)}"
            t0 = time.perf_counter()
            status, _ = await send("POST", "/transactions",
                                   {"transactionId": tid, **PREFERENCES[i % 4]})
            latencies.append(time.perf_counter() - t0)
            statuses[status] = statuses.get(status, 0) + 1
            if status == 201:
                created.append(tid)

    start = time.perf_counter()
    await asyncio.gather(*(worker(s) for s in senders))
    elapsed = time.perf_counter() - start
    releases = iter(created)

    async def release(send: Send) -> None:
        for tid in releases:
            await send("DELETE", f"/transactions/{tid}", None)

    await asyncio.gather(*(release(s) for s in senders))
    return elapsed


async def measure(label: str, senders: list[Send], counter: itertools.count) -> None:
    await health_rate(senders)  # warm-up
    health = await health_rate(senders)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    elapsed = 0.0
    for _ in range(CREATE_ROUNDS):
        elapsed += await one_round(senders, counter, latencies, statuses)
    creates = len(latencies) / elapsed
    q = statistics.quantiles(latencies, n=100)
    print(f"[{label}]")
    print(f"  GET /health         : {health:7.0f} req/s  (baseline, checks the database)")
    print(f"  POST /transactions  : {creates:7.0f} req/s  p50 {q[49] * 1000:.1f} ms  "
          f"p99 {q[98] * 1000:.1f} ms  statuses {statuses}")
    print(f"  ratio creates/health: {creates / health:7.2f}  (target >= 0.5)")


async def drive(port: int) -> None:
    counter = itertools.count()
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}",
                                 headers={"X-API-Key": KEY}, limits=limits,
                                 timeout=30) as client:

        async def via_httpx(method: str, path: str, body: dict | None) -> tuple[int, bytes]:
            r = await client.request(method, path, json=body)
            return r.status_code, r.content

        await measure("httpx clients", [via_httpx] * CONCURRENCY, counter)
    raw = [RawConnection(port) for _ in range(CONCURRENCY)]
    try:
        await measure("lean HTTP/1.1 clients", [c.send for c in raw], counter)
    finally:
        for conn in raw:
            conn.close()


def main() -> None:
    print(f"500-locker SQLite site (synchronous=FULL), {CONCURRENCY} concurrent clients, "
          "one uvicorn process")
    with tempfile.TemporaryDirectory(prefix="berth-bench-") as tmp:
        proc, port = start_server(Path(tmp))
        try:
            asyncio.run(drive(port))
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
