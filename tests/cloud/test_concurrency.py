"""200 simultaneous reservations for 20 lockers over 2 real server processes: exactly 20 win."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from berth.cloud.app import build_service
from berth.cloud.lockers.schemas import LockerCreate
from berth.cloud.partners.schemas import ClientCredentials
from berth.cloud.services import CloudServices
from berth.cloud.tables import events, outbox, reservations
from berth.contracts.cloud import Tower
from berth.domain.tokens import TokenKind, sign_event
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


def partner_tower(db_url: str, data: Path, lockers: int
                  ) -> tuple[CloudServices, ClientCredentials, Tower, list[int]]:
    """A cloud's services with a partner owning one tower of ``lockers`` lockers."""
    service = build_service(cloud_config(db_url=db_url, data_dir=data, sweep_interval=0))
    creds = service.partners.create_partner("racer")
    tower = service.towers.create_tower("race")
    specs = [LockerCreate(name=str(i)) for i in range(lockers)]
    ids = [lk.id for lk in service.lockers.add_lockers(tower.id, specs)]
    service.towers.assign_tower(tower.id, creds.partner_id)  # type: ignore[arg-type]
    return service, creds, tower, ids


def test_exactly_one_reservation_per_locker(
    db_url: str, tmp_path: Path, free_port: Callable[[], int]
) -> None:
    data = tmp_path / "data"
    service, creds, tower, lockers = partner_tower(db_url, data, 20)
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


async def relay_all(urls: list[str], token: str, tower: str, batch: list[dict]) -> list[dict]:
    """The same batch relayed 12 times at once, alternating between the two processes."""
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, limits=limits, headers=headers) as client:
        answers = await asyncio.gather(*(
            client.post(f"{urls[i % 2]}/sdk/v1/towers/{tower}/events", json={"events": batch})
            for i in range(12)))
    assert [a.status_code for a in answers] == [200] * 12, [a.text for a in answers]
    return [r for a in answers for r in a.json()["results"]]


def test_concurrent_relays_of_one_batch_apply_each_event_once(
    db_url: str, tmp_path: Path, free_port: Callable[[], int]
) -> None:
    data = tmp_path / "data"
    service, creds, tower, (locker_id,) = partner_tower(db_url, data, 1)
    pid = creds.partner_id or 0
    drop = service.tokens.issue_token(pid, tower.id, locker_id, TokenKind.DROPOFF, 600)
    key = Ed25519PrivateKey.from_private_bytes(
        bytes.fromhex(service.towers.provisioning(tower.id).tower_private_key))
    batch = [sign_event({"tower_id": tower.id, "seq": seq, "type": "boot", "timestamp": 1}, key)
             for seq in range(1, 20)]
    batch.append(sign_event({"tower_id": tower.id, "seq": 20, "type": "dropoff_token_used",
                             "timestamp": 1, "locker_id": locker_id,
                             "token_id": drop.token_id}, key))
    token = service.auth.issue_access_token(creds.client_id, creds.client_secret,
                                            "tower_access").access_token

    with servers(db_url, data, [free_port(), free_port()]) as urls:
        results = asyncio.run(relay_all(urls, token, tower.id, batch))

    firsts = Counter(r["seq"] for r in results if r["outcome"] != "duplicate")
    assert firsts == Counter(range(1, 21))  # each (tower, seq) applied or recorded once
    with service.db.read() as conn:
        stored = conn.execute(select(events.c.seq).where(events.c.tower_id == tower.id))
        assert sorted(stored.scalars()) == list(range(1, 21))
        told = conn.execute(select(outbox.c.type).where(outbox.c.partner_id == pid)).scalars()
        assert list(told).count("tower.event_applied") == 1
    service.db.dispose()


def test_a_command_long_poll_wakes_when_any_process_queues_a_command(
    db_url: str, tmp_path: Path, free_port: Callable[[], int]
) -> None:
    """A tower's long-poll held by a real server returns once a command is queued, here by
    another process sharing the database (the test's own services); with none it returns
    empty after ``wait``."""
    data = tmp_path / "data"
    service, creds, tower, _ = partner_tower(db_url, data, 1)
    token = service.auth.issue_access_token(creds.client_id, creds.client_secret,
                                            "tower_access").access_token
    headers = {"Authorization": f"Bearer {token}"}
    with servers(db_url, data, [free_port()]) as (url,):
        commands = f"{url}/sdk/v1/towers/{tower.id}/commands"
        empty = httpx.get(commands, params={"wait": 0.3}, headers=headers, timeout=HTTP_TIMEOUT)
        assert empty.json() == {"commands": [], "waited": True}
        answers: list[httpx.Response] = []
        polling = threading.Thread(target=lambda: answers.append(httpx.get(
            commands, params={"wait": 60}, headers=headers, timeout=HTTP_TIMEOUT + 60)))
        polling.start()
        assert service.tower_sync.announce_keys() == 1  # queued by "another process"
        polling.join(timeout=HTTP_TIMEOUT + 60)
        assert [c["kind"] for c in answers[0].json()["commands"]] == ["cloud_keys"]
        plain = httpx.get(commands, headers=headers, timeout=HTTP_TIMEOUT).json()
        assert len(plain["commands"]) == 1 and plain["waited"] is False
    service.db.dispose()
