from __future__ import annotations

import os
import threading
import time
from pathlib import Path

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
