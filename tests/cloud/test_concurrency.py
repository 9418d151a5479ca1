"""200 simultaneous reservations for 20 lockers over 2 real server processes: exactly 20 win."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import select

from berth.cloud.app import build_service
from berth.cloud.lockers.schemas import LockerCreate
from berth.cloud.tables import outbox, reservations
from tests.cloud.conftest import wait_until
from tests.support.configs import cloud_config
from tests.support.waiting import HTTP_TIMEOUT, SERVER_START


@contextmanager
def servers(db_url: str, data_dir: Path, ports: list[int]) -> Iterator[list[str]]:
    env = {**os.environ, "BERTH_DATA_DIR": str(data_dir)}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from berth.cli.main import app; app()",
                "cloud",
                "serve",
                "--port",
                str(p),
                "--db",
                db_url,
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for p in ports
    ]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    try:
        for url, proc in zip(urls, procs, strict=True):

            def up(url: str = url, proc: subprocess.Popen[bytes] = proc) -> bool:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                try:
                    return httpx.get(f"{url}/openapi.json", timeout=1).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_until(up, timeout=SERVER_START)
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)


async def reserve_all(urls: list[str], token: str, tower: str, lockers: list[int]) -> Counter[int]:
    headers = {"Authorization": f"Bearer {token}"}
    # a fresh connection per request: a pooled one that sat idle past uvicorn's 5 s keep-alive
    # (a busy machine) can be closed by the server just as the next POST goes out (ReadError)
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, limits=limits, headers=headers) as client:
        calls = [
            client.post(
                f"{urls[i % 2]}/api/v1/towers/{tower}/lockers/{lockers[i % 20]}/reservations",
                json={"duration": 300},
            )
            for i in range(200)
        ]
        answers = await asyncio.gather(*calls)
    return Counter(r.status_code for r in answers)


def test_exactly_one_reservation_per_locker(
    db_url: str, tmp_path: Path, free_port: Callable[[], int]
) -> None:
    data = tmp_path / "data"
    service = build_service(cloud_config(db_url=db_url, data_dir=data, sweep_interval=0))
    creds = service.partners.create_partner("racer")
    tower = service.towers.create_tower("race")
    specs = [LockerCreate(name=str(i)) for i in range(20)]
    lockers = [lk.id for lk in service.lockers.add_lockers(tower.id, specs)]
    service.towers.assign_tower(tower.id, creds.partner_id)  # type: ignore[arg-type]
    token = service.auth.issue_access_token(creds.client_id, creds.client_secret, None).access_token

    with servers(db_url, data, [free_port(), free_port()]) as urls:
        statuses = asyncio.run(reserve_all(urls, token, tower.id, lockers))

    assert statuses == Counter({201: 20, 409: 180})
    with service.db.read() as conn:
        active = (
            conn.execute(select(reservations.c.locker_id).where(reservations.c.status == "active"))
            .scalars()
            .all()
        )
    assert sorted(active) == sorted(lockers)
    with service.db.read() as conn:
        query = select(outbox.c.position).where(outbox.c.partner_id == creds.partner_id)
        positions = conn.execute(query).scalars().all()
    # Each win wrote its two events with gap-free positions across both processes; no loss wrote.
    assert sorted(positions) == list(range(1, 41))
    service.db.dispose()
