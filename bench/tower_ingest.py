"""Tower event ingest: signed events per second through ``POST /sdk/v1/towers/{id}/events``.

One ``berth cloud serve`` process per engine (SQLite ``synchronous=FULL``, PostgreSQL fsync on),
32 towers, wrk with 32 connections each posting fresh signed events (each ``(tower, seq)`` once:
"recorded" facts such as boots and door reports) in batches of 1 and of 50. Each batch is one
transaction; the figure is events/s against the same server's ``/docs`` (its cheapest route) in
the same run. Target (issue 13): >= 2,000 events/s in batches.
"""

from __future__ import annotations

import itertools
import json
import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench._cloud import (
    access_token,
    cloud_server,
    database,
    require_wrk,
    rotating_posts,
    seed,
    wrk,
)
from berth.cloud.app import build_service
from berth.cloud.config import CloudConfig
from berth.domain.tokens import sign_event
from berth.kit.settings import Settings

TOWERS = 32
SECONDS = 3.0
BATCHES = ((1, 1500), (50, 240))  # (events per batch, batches prepared: more than 3 s needs)


def tower_keys(url: str, data: Path, towers: list[str]) -> dict[str, Ed25519PrivateKey]:
    service = build_service(CloudConfig.from_settings(Settings(data_dir=data), db_url=url,
                                                      sweep_interval=0))
    keys = {t: Ed25519PrivateKey.from_private_bytes(
        bytes.fromhex(service.towers.provisioning(t).tower_private_key)) for t in towers}
    service.db.dispose()
    return keys


def batches(keys: dict[str, Ed25519PrivateKey], size: int, count: int,
            seqs: dict[str, itertools.count]) -> list[tuple[str, str]]:
    towers = list(keys)
    out = []
    for i in range(count):
        tower = towers[i % len(towers)]
        events = [sign_event({"tower_id": tower, "seq": next(seqs[tower]), "type": "boot",
                              "timestamp": 1_700_000_000}, keys[tower]) for _ in range(size)]
        out.append((f"/sdk/v1/towers/{tower}/events", json.dumps({"events": events})))
    return out


def run_engine(engine: str, root: Path) -> None:
    with database(engine, root) as url:
        if url is None:
            return
        data = root / engine
        fleet = seed(url, data, TOWERS, 1)
        towers = sorted({t for t, _ in fleet.lockers})
        keys = tower_keys(url, data, towers)
        seqs = {t: itertools.count(1) for t in towers}
        with cloud_server(url, data) as server:
            bearer = access_token(server.base, fleet, "tower_access")
            headers = {"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"}
            wrk(server.base, "/docs", 1.0)  # warm-up
            docs = wrk(server.base, "/docs", SECONDS)
            print(f"[{engine}]  {TOWERS} towers, one uvicorn process, wrk 2 threads / 32 "
                  "connections")
            print(docs.line("/docs (baseline)"))
            for size, count in BATCHES:
                todo = batches(keys, size, count, seqs)
                res = wrk(server.base, todo[0][0], SECONDS, rotating_posts(todo, headers))
                if res.requests > count:
                    print(f"  WARNING: {res.requests} batches sent, only {count} prepared "
                          "(repeats count as duplicates)")
                print(res.line(f"batches of {size}", docs)
                      + f"  = {res.rate * size:7.0f} events/s")


def main() -> None:
    if require_wrk() is None:
        return
    with tempfile.TemporaryDirectory(prefix="berth-bench-") as tmp:
        for engine in os.environ.get("BERTH_BENCH_ENGINES", "sqlite postgres").split():
            run_engine(engine, Path(tmp))


if __name__ == "__main__":
    main()
