from __future__ import annotations

import threading
import time

from sqlalchemy import text

from berth.storage import Database, normalize_url


def test_normalize_url_picks_psycopg() -> None:
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"


def test_sqlite_is_wal_and_durable(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    with db.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    db.dispose()


def test_sqlite_writers_are_serialised(sqlite_url: str) -> None:
    """BEGIN IMMEDIATE: a second writer waits for the first instead of reading stale data."""
    db = Database(sqlite_url)
    with db.write() as conn:
        conn.execute(text("CREATE TABLE counter (n INTEGER)"))
        conn.execute(text("INSERT INTO counter VALUES (0)"))

    def bump() -> None:
        for _ in range(20):
            with db.write() as conn:
                n = conn.execute(text("SELECT n FROM counter")).scalar_one()
                time.sleep(0.001)
                conn.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with db.read() as conn:
        assert conn.execute(text("SELECT n FROM counter")).scalar_one() == 80
    db.dispose()


def test_same_code_on_postgres(postgres_url: str) -> None:
    db = Database(postgres_url)
    assert db.ping()
    with db.write() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
    with db.read() as conn:
        assert conn.execute(text("SELECT n FROM t")).scalar_one() == 1
    db.dispose()
