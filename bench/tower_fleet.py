"""Towers per cloud process: what an idle tower costs, and how fast a command reaches it.

One ``berth cloud serve`` process per engine with 5,000 towers; this process plays the towers
(one asyncio connection each, one process) holding command long-polls
(``GET /sdk/v1/towers/{id}/commands?wait=10``; the gateway's tower sync waits 20 s). The
towers start spread over one wait, as real ones would, and the window covers one whole cycle.
Printed: the
cloud's CPU per second while they idle, per idle tower, beside the same-run baseline of 500
towers polling every 2 s without ``wait`` (what towers did before); then the latency from a
command committed to the database (by this process, as another cloud process would) to its
tower receiving it, for 30 towers picked at random. Target (issue 13): under 1 s while 5,000
towers idle.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import resource
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

from bench._cloud import access_token, cloud_server, database, seed
from berth.cloud.app import build_service
from berth.cloud.config import CloudConfig
from berth.cloud.tables import tower_partners, towers
from berth.cloud.tower_sync import repository as sync_repo
from berth.kit.settings import Settings

TOWERS = 5_000
POLLING_TOWERS = 500  # the baseline: plain polls every POLL_INTERVAL s
POLL_INTERVAL = 2.0
WAIT = 10  # the gateway's default is 20: half the re-polls measured here
IDLE_SECONDS = float(WAIT)  # one whole long-poll cycle
COMMANDS = 30


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def add_towers(url: str, data: Path, partner_id: int, n: int) -> list[str]:
    """``n`` more towers of the partner, bulk-inserted (no keys needed: they only poll)."""
    service = build_service(CloudConfig.from_settings(Settings(data_dir=data), db_url=url,
                                                      sweep_interval=0))
    now = datetime.now(UTC)
    ids = [f"{0xb000000000000000 + i:016x}" for i in range(n)]
    with service.db.write() as conn:
        conn.execute(insert(towers), [dict(id=t, name=t, public_key=b"\0" * 32,
                                           private_key_sealed=b"", created_at=now) for t in ids])
        conn.execute(insert(tower_partners), [dict(tower_id=t, partner_id=partner_id)
                                              for t in ids])
    service.db.dispose()
    return ids


class Tower:
    """One tower's keep-alive HTTP/1.1 connection, just enough for the commands call."""

    def __init__(self, port: int, tower_id: str, bearer: str) -> None:
        self.port, self.tower_id, self.bearer = port, tower_id, bearer
        self.received: dict[int, float] = {}  # command id -> when it arrived (perf_counter)
        self.requests = 0
        self.errors = 0
        self._io: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def get(self, wait: float) -> list[dict]:
        if self._io is None:
            self._io = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = self._io
        query = f"?wait={wait}" if wait else ""
        writer.write(f"GET /sdk/v1/towers/{self.tower_id}/commands{query} HTTP/1.1\r\n"
                     f"Host: cloud\r\nAuthorization: Bearer {self.bearer}\r\n\r\n".encode())
        status = int((await reader.readline()).split()[1])
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        body = await reader.readexactly(length)
        self.requests += 1
        if status != 200:
            raise RuntimeError(f"{status}: {body[:200]!r}")
        commands = json.loads(body)["commands"]
        for c in commands:
            self.received.setdefault(c["id"], time.perf_counter())
        return commands

    async def step(self, wait: float) -> None:
        try:
            await self.get(wait)
        except (OSError, RuntimeError, asyncio.IncompleteReadError):  # as a tower: retry later
            self.errors += 1
            self.close()
            await asyncio.sleep(1.0)

    def close(self) -> None:
        if self._io is not None:
            self._io[1].close()
            self._io = None

    async def long_poll(self) -> None:
        while True:
            await self.step(WAIT)

    async def plain_poll(self) -> None:
        while True:
            await self.step(0)
            await asyncio.sleep(POLL_INTERVAL)


async def idle_cpu(pid: int, fleet: list[Tower], mode: str
                   ) -> tuple[float, float, list[asyncio.Task[None]]]:
    """Start the towers, let them settle, then (cloud CPU s per s, requests per s)."""
    tasks = []
    spread = WAIT if mode == "long" else POLL_INTERVAL
    for i, tower in enumerate(fleet):
        tasks.append(asyncio.create_task(tower.long_poll() if mode == "long" else
                                         tower.plain_poll()))
        if i % 50 == 49:
            await asyncio.sleep(spread * 50 / len(fleet))
    await asyncio.sleep(2.0)
    cpu0, req0, t0 = cpu_seconds(pid), sum(t.requests for t in fleet), time.perf_counter()
    await asyncio.sleep(IDLE_SECONDS)
    elapsed = time.perf_counter() - t0
    cpu = (cpu_seconds(pid) - cpu0) / elapsed
    rate = (sum(t.requests for t in fleet) - req0) / elapsed
    return cpu, rate, tasks


def stop(fleet: list[Tower], tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for tower in fleet:
        tower.close()


async def command_latency(url: str, data: Path, fleet: list[Tower]) -> list[float]:
    service = build_service(CloudConfig.from_settings(Settings(data_dir=data), db_url=url,
                                                      sweep_interval=0, migrate=False))
    latencies = []
    for tower in random.sample(fleet, COMMANDS):
        def queue(tower_id: str = tower.tower_id) -> int:
            with service.ctx.write() as conn:
                return sync_repo.insert_command(conn, tower_id, "cloud_keys", None, None, "00",
                                                "00", datetime.now(UTC))
        cid = await asyncio.to_thread(queue)
        sent = time.perf_counter()
        while cid not in tower.received:
            await asyncio.sleep(0.005)
        latencies.append(tower.received[cid] - sent)
        await asyncio.sleep(random.random() * 0.2)
    service.db.dispose()
    return latencies


def run_engine(engine: str, root: Path) -> None:
    with database(engine, root) as url:
        if url is None:
            return
        data = root / engine
        fleet0 = seed(url, data, 1, 0)
        creds_partner = build_service(CloudConfig.from_settings(
            Settings(data_dir=data), db_url=url, sweep_interval=0, migrate=False))
        pid_partner = creds_partner.partners.list_partners()[0].id
        creds_partner.db.dispose()
        ids = add_towers(url, data, pid_partner, TOWERS)
        with cloud_server(url, data) as server:
            port = int(server.base.rsplit(":", 1)[1])
            bearer = access_token(server.base, fleet0, "tower_access")

            async def scenario() -> None:
                polling = [Tower(port, t, bearer) for t in ids[:POLLING_TOWERS]]
                base_cpu, base_rate, tasks = await idle_cpu(server.pid, polling, "plain")
                stop(polling, tasks)
                fleet = [Tower(port, t, bearer) for t in ids]
                cpu, rate, tasks = await idle_cpu(server.pid, fleet, "long")
                latencies = await command_latency(url, data, fleet)
                stop(fleet, tasks)
                errors = sum(t.errors for t in polling + fleet)
                per_plain = base_cpu / POLLING_TOWERS * 1e6
                per_long = cpu / TOWERS * 1e6
                print(f"[{engine}]  one uvicorn process; the towers: one asyncio process")
                print(f"  {POLLING_TOWERS} towers polling every {POLL_INTERVAL:.0f} s (before): "
                      f"cloud CPU {base_cpu:5.2f} s/s, {base_rate:6.0f} req/s, "
                      f"{per_plain:6.1f} us CPU per tower per s")
                print(f"  {TOWERS} towers in {WAIT} s long-polls: cloud CPU {cpu:5.2f} s/s, "
                      f"{rate:6.0f} req/s, {per_long:6.1f} us CPU per idle tower per s, "
                      f"ratio to polling {per_long / per_plain:5.3f}")
                print(f"  command to its tower (of {COMMANDS}): p50 "
                      f"{statistics.median(latencies) * 1000:6.0f} ms, max "
                      f"{max(latencies) * 1000:6.0f} ms  (target < 1000 ms)"
                      + (f"; {errors} failed requests (retried)" if errors else ""))
                slow = sorted(latencies)[-3:]
                print("  slowest: " + ", ".join(f"{x * 1000:.0f} ms" for x in slow))

            asyncio.run(scenario())


def main() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * TOWERS)), hard))
    with tempfile.TemporaryDirectory(prefix="berth-bench-") as tmp:
        for engine in os.environ.get("BERTH_BENCH_ENGINES", "sqlite postgres").split():
            run_engine(engine, Path(tmp))


if __name__ == "__main__":
    main()
