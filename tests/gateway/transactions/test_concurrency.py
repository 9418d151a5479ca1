"""Many simultaneous creates over two real server processes sharing one database.

Whatever the interleaving, no locker is ever held by two open transactions, each transaction id
is assigned at most once, and every answer is one the API documents.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import yaml
from sqlalchemy import text

from berth.storage.engine import Database
from tests.gateway.conftest import API_KEY, AUTH, ServerProcess
from tests.support.waiting import HTTP_TIMEOUT

BANKS, PER_BANK = 6, 20  # 120 lockers
UNIQUE_IDS, DUPLICATES = 200, 40


def write_site(path: Path) -> Path:
    kinds = ["small", "medium", "large"]
    path.write_text(yaml.safe_dump({
        "name": "race site", "attributes": ["low", "high"],
        "locker_types": [{"slug": k, "name": k, "width": 16, "height": 8 * (i + 1),
                          "depth": 20} for i, k in enumerate(kinds)],
        "bank_types": [{"key": "race", "friendly_name": "Race", "associations": {
            n: {"type": kinds[n % 3], "attributes": ["low" if n % 2 else "high"]}
            for n in range(1, PER_BANK + 1)}}],
        "banks": [{"name": f"B{i}", "bank_type": "race",
                   "controller": {"id": f"c{i}", "channels": PER_BANK}} for i in range(BANKS)],
    }))
    return path


async def fire(urls: list[str], ids: list[str]) -> list[tuple[str, httpx.Response]]:
    # a fresh connection per request: a pooled one that sat idle past uvicorn's 5 s keep-alive
    # (a busy machine) can be closed by the server just as the next POST goes out (ReadError)
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=0)
    async with httpx.AsyncClient(headers=AUTH, timeout=HTTP_TIMEOUT, limits=limits) as client:
        async def one(i: int, tid: str) -> tuple[str, httpx.Response]:
            body = {"transactionId": tid}
            if i % 3 == 1:
                body |= {"preferredLockerType": "medium", "allowFallback": True}
            return tid, await client.post(urls[i % len(urls)] + "/transactions", json=body)

        return await asyncio.gather(*(one(i, t) for i, t in enumerate(ids)))


def run_race(db_url: str, tmp_path: Path, free_port) -> None:  # type: ignore[no-untyped-def]
    site = write_site(tmp_path / "site.yaml")
    servers = [ServerProcess(db_url, free_port(), tmp_path, site) for _ in range(2)]
    try:
        for server in servers:
            server.wait_ready()
        ids = [f"race-{i}" for i in range(UNIQUE_IDS)]
        ids += [f"race-{i}" for i in range(0, DUPLICATES * 5, 5)]  # same id, other server too
        results = asyncio.run(fire([s.url for s in servers], ids))
    finally:
        for server in servers:
            server.stop()
    for server in servers:  # `berth gateway serve` tells where it runs, and whence its key
        banner = server.log.read_text()
        assert server.url in banner and "BERTH_GATEWAY_API_KEY" in banner
        assert API_KEY not in banner  # a configured key stays out of service logs

    winners: dict[str, int] = {}
    no_locker = conflicts = 0
    for tid, r in results:
        assert r.status_code in (201, 409, 503), r.text
        body = r.json()
        if r.status_code == 201:
            assert tid not in winners, f"{tid} assigned twice"
            winners[tid] = body["lockerId"]
        elif r.status_code == 503:
            assert body["error"] == "LOCKER_ASSIGNMENT_CONFLICT" and r.headers["Retry-After"]
            conflicts += 1
        elif body["error"] == "NO_AVAILABLE_LOCKERS":
            no_locker += 1
        else:
            assert body["error"] == "TRANSACTION_EXISTS"
    assert len(set(winners.values())) == len(winners), "a locker was assigned twice"
    # more plain requests than lockers: every locker ends up taken unless a race was lost
    assert len(winners) == BANKS * PER_BANK or conflicts
    assert no_locker + conflicts + len(winners) + DUPLICATES >= len(results) - DUPLICATES
    for tid, r in results:  # a duplicate answer shows the winner's transaction
        if r.status_code == 409 and r.json()["error"] == "TRANSACTION_EXISTS":
            assert r.json()["lockerId"] == winners[tid]

    db = Database(db_url)
    try:
        with db.read() as conn:
            rows = conn.execute(text(
                "SELECT locker_id, count(*) FROM transactions WHERE released_at IS NULL "
                "GROUP BY locker_id HAVING count(*) > 1")).all()
            assert rows == []
            stored = dict(conn.execute(text(
                "SELECT transaction_id, locker_id FROM transactions")).all())
            held = conn.execute(text(
                "SELECT count(*) FROM lockers WHERE held = true")).scalar()
    finally:
        db.dispose()
    assert stored == winners
    assert held == len(winners)


def test_two_processes_on_sqlite(tmp_path: Path, free_port) -> None:  # type: ignore[no-untyped-def]
    run_race(f"sqlite:///{tmp_path / 'race.db'}", tmp_path, free_port)


def test_two_processes_on_postgres(postgres_url: str, tmp_path: Path,
                                   free_port) -> None:  # type: ignore[no-untyped-def]
    run_race(postgres_url, tmp_path, free_port)
