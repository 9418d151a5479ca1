"""The cloud's request path under load: token logins, authenticated reads, durable writes.

One ``berth cloud serve`` process (uvicorn) per engine, SQLite (``synchronous=FULL``) and a
throwaway PostgreSQL (fsync on), a partner owning 400 towers of 20 lockers, and wrk with 2
threads / 32 connections beside it on the same cores. Each figure is a ratio against the same
server's cheapest route (``/docs``, a static page) measured in the same run. Targets (issue 13):
``POST /oauth/token`` >= 100/s; ``GET .../lockers`` >= 0.25; reservations and drop-off token
issues >= 0.1 with p99 < 250 ms. ``BERTH_BENCH_ENGINES=sqlite`` runs one engine.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from bench._cloud import (
    Fleet,
    WrkResult,
    access_token,
    cloud_server,
    database,
    header_script,
    require_wrk,
    rotating_posts,
    seed,
    wrk,
)

TOWERS = 400
PER_TOWER = 20
SECONDS = 3.0


def run_engine(engine: str, root: Path) -> dict[str, WrkResult]:
    results: dict[str, WrkResult] = {}
    with database(engine, root) as url:
        if url is None:
            return results
        data = root / engine
        fleet: Fleet = seed(url, data, TOWERS, PER_TOWER)
        with cloud_server(url, data) as server:
            base = server.base
            bearer = {"Authorization": f"Bearer {access_token(base, fleet)}"}
            json_h = bearer | {"Content-Type": "application/json"}
            tower_id = fleet.lockers[0][0]
            wrk(base, "/docs", 1.0)  # warm-up
            results["/docs"] = docs = wrk(base, "/docs", SECONDS)
            form = (f"grant_type=client_credentials&client_id={fleet.client_id}"
                    f"&client_secret={fleet.client_secret}&scope=service_provider")
            results["POST /oauth/token"] = wrk(base, "/oauth/token", SECONDS, header_script(
                {"Content-Type": "application/x-www-form-urlencoded"}, "POST", form))
            results["GET .../lockers"] = wrk(
                base, f"/api/v1/towers/{tower_id}/lockers", SECONDS, header_script(bearer))
            half = len(fleet.lockers) // 2
            reserve = [f"/api/v1/towers/{t}/lockers/{lk}/reservations"
                       for t, lk in fleet.lockers[:half]]
            body = json.dumps({"duration": 3600})
            results["POST .../reservations"] = wrk(base, reserve[0], SECONDS, rotating_posts(
                [(p, body) for p in reserve], json_h))
            issue = [f"/api/v1/towers/{t}/lockers/{lk}/dropoff-locker-tokens"
                     for t, lk in fleet.lockers[half:]]
            body = json.dumps({"duration": 3600, "client_info": ""})
            results["POST .../dropoff-locker-tokens"] = wrk(
                base, issue[0], SECONDS, rotating_posts([(p, body) for p in issue], json_h))
        print(f"[{engine}]  {TOWERS} towers x {PER_TOWER} lockers, one uvicorn process, "
              f"wrk 2 threads / 32 connections")
        for label, res in results.items():
            print(res.line(label, None if label == "/docs" else docs))
    return results


def main() -> None:
    if require_wrk() is None:
        return
    engines = os.environ.get("BERTH_BENCH_ENGINES", "sqlite postgres").split()
    with tempfile.TemporaryDirectory(prefix="berth-bench-") as tmp:
        for engine in engines:
            run_engine(engine, Path(tmp))


if __name__ == "__main__":
    main()
