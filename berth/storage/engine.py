"""SQLAlchemy engines for SQLite (embedded default) and PostgreSQL (production), one code path.

SQLite notes (see shared stack notes): the dialect ignores FOR UPDATE, so every write transaction
starts with BEGIN IMMEDIATE, which serialises writers across processes; reads use a deferred BEGIN
so they never wait for a writer under WAL. ``synchronous=FULL`` keeps commits durable on site
hardware that may lose power.

Writers of one process queue on a lock before their ``BEGIN IMMEDIATE`` (SQLite): waiting in
SQLite's busy handler means sleep-polling with growing sleeps (p99 over a second at 32 writers),
a lock hands over at once; writers of other processes still meet at ``BEGIN IMMEDIATE`` and its
busy timeout. On PostgreSQL a read runs in autocommit: at READ COMMITTED every statement sees its
own snapshot anyway, so BEGIN and COMMIT would only add two round trips.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

_READ_ONLY = "berth_read_only"


def normalize_url(url: str) -> str:
    """Accept plain ``postgresql://`` / ``postgres://`` URLs and pick the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def is_sqlite(url_or_engine: str | Engine) -> bool:
    url = url_or_engine.url if isinstance(url_or_engine, Engine) else make_url(url_or_engine)
    return url.get_backend_name() == "sqlite"


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    url = normalize_url(url)
    if not is_sqlite(url):
        return create_engine(url, pool_size=pool_size, max_overflow=20, pool_pre_ping=True)

    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        _private_file(Path(parsed.database))
    engine = create_engine(
        url,
        connect_args={"timeout": 30, "check_same_thread": False},
        pool_size=pool_size,
        max_overflow=20,
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "first_connect")
    def _private_companions(_dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        if parsed.database and parsed.database != ":memory:":
            for suffix in ("-wal", "-shm"):  # left by an older, laxer start
                _tighten(Path(parsed.database + suffix))

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        read_only = conn.get_execution_options().get(_READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def _private_file(path: Path) -> None:
    """Create the database file 0600 before SQLite does: it holds secrets (hashed credentials,
    sealed keys, the event log), and SQLite gives its -wal and -shm files the database's mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        _tighten(path)


def _tighten(path: Path) -> None:
    """Drop group and other access from a file we own (best effort: it may not be ours)."""
    with contextlib.suppress(OSError):
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)


class Database:
    """An engine plus the two kinds of transaction the services use."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = normalize_url(url)
        self.engine = make_engine(self.url, pool_size=pool_size)
        self.sqlite = is_sqlite(self.url)
        database = make_url(self.url).database if self.sqlite else None
        self._sqlite_file = database if database and database != ":memory:" else None
        # Re-entrant: a write opened inside another of the same thread fails in SQLite as it
        # did before (busy), instead of deadlocking here.
        self._writer = threading.RLock()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: BEGIN IMMEDIATE on SQLite (after this process's other writers),
        plain BEGIN on PostgreSQL."""
        if not self.sqlite:
            with self.engine.begin() as conn:
                yield conn
            return
        with self._writer, self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read that never takes SQLite's write lock (one snapshot there; autocommit
        statements on PostgreSQL)."""
        with self.engine.connect() as conn:
            options: dict[str, object] = {_READ_ONLY: True}
            if not self.sqlite:
                options["isolation_level"] = "AUTOCOMMIT"
            conn = conn.execution_options(**options)
            with conn.begin():
                yield conn

    def ping(self) -> bool:
        """Whether the database answers a query now.

        For an SQLite file this opens the file afresh (never creating it): a pooled connection
        keeps answering from a file that was deleted or whose directory went away.
        """
        try:
            if self.sqlite and self._sqlite_file:
                uri = f"file:{quote(self._sqlite_file)}?mode=rw"
                with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=5)) as conn:
                    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
                return True
            with self.read() as conn:
                conn.exec_driver_sql("SELECT 1")
            return True
        except Exception:
            return False

    def dispose(self) -> None:
        self.engine.dispose()
