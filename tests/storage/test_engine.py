from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import psycopg
from sqlalchemy import event, text

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


def test_sqlite_writers_of_one_process_queue_on_a_lock_not_in_the_busy_handler(
    sqlite_url: str,
) -> None:
    """With SQLite's busy timeout at 0, any writer meeting another at BEGIN IMMEDIATE would fail
    at once ("database is locked"): the process's writers never get there together."""
    db = Database(sqlite_url)

    @event.listens_for(db.engine, "connect")
    def _no_busy_wait(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn.execute("PRAGMA busy_timeout=0")

    with db.write() as conn:
        conn.execute(text("CREATE TABLE counter (n INTEGER)"))
        conn.execute(text("INSERT INTO counter VALUES (0)"))
    failures: list[Exception] = []

    def bump() -> None:
        try:
            for _ in range(25):
                with db.write() as conn:
                    conn.execute(text("UPDATE counter SET n = n + 1"))
        except Exception as exc:
            failures.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    with db.read() as conn:
        assert conn.execute(text("SELECT n FROM counter")).scalar_one() == 200
    db.dispose()


def test_postgres_reads_open_no_transaction(postgres_url: str) -> None:
    """Autocommit reads: no BEGIN/COMMIT round trips (READ COMMITTED gives each statement its
    own snapshot anyway); writes still run in one transaction."""
    db = Database(postgres_url)
    with db.read() as conn:
        conn.execute(text("SELECT 1"))
        raw = conn.connection.dbapi_connection
        assert raw is not None and raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    with db.write() as conn:
        conn.execute(text("SELECT 1"))
        raw = conn.connection.dbapi_connection
        assert raw is not None
        assert raw.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
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


def test_sqlite_files_are_private(tmp_path: Path) -> None:
    """The database and its -wal/-shm files are 0600 whatever the umask; older files tightened."""
    old = os.umask(0o022)
    try:
        path = tmp_path / "secret.db"
        db = Database(f"sqlite:///{path}")
        with db.write() as conn:
            conn.execute(text("CREATE TABLE t (n INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
        files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
        assert all(f.exists() for f in files)
        assert {f.name: f.stat().st_mode & 0o777 for f in files} == \
            {f.name: 0o600 for f in files}
        db.dispose()

        laxer = tmp_path / "older.db"
        laxer.touch(mode=0o644)
        os.chmod(laxer, 0o644)
        Database(f"sqlite:///{laxer}").dispose()
        assert laxer.stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)
