"""A real database of every old schema version upgrades to head, rows intact, on both engines.

Each revision of each migration tree has a small database in ``tests/storage/fixtures/`` built
by ``tests/support/make_schema_fixtures.py`` when that revision was new. Here it is upgraded
with ``berth.storage.migrate.upgrade`` (what the services run at start) and checked: every row
is still there with the same values, columns added since hold what ``BACKFILLS`` says, and the
schema is exactly the one the tables describe. A revision without a fixture fails, by name.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, MetaData, select, text

from berth.storage import Database, migrate
from tests.support.schema_fixtures import (
    ENGINES,
    GENERATE,
    TREES,
    Tree,
    load_postgres_dump,
    schema_drift,
)

Row = dict[str, Any]

#: What a column added by a later migration holds in rows that existed before it:
#: (tree, table, column) -> the value, or a function of the old row for a computed backfill.
#: A new column missing here fails the test, so every migration author decides it.
BACKFILLS: dict[tuple[str, str, str], Any | Callable[[Row], Any]] = {
    # 0002: lockers.occupied is renamed held (the cloud's "occupied" is another thing).
    ("gateway", "lockers", "held"): lambda old: old["occupied"],
    # t0003: no locker of an older tower is held for a cloud parcel.
    ("tower", "tower_lockers", "hold_id"): None,
    # t0004: an older pending token has no recorded expiry; its spent record uses the fallback.
    ("tower", "tower_lockers", "pending_expires"): None,
    # cloud 0003: no older locker has a known load limit.
    ("cloud", "lockers", "max_weight_g"): None,
    # cloud 0005: older locations set no dwell windows, so no parcel has a collection deadline
    # and no drop-off token was reported expired.
    ("cloud", "locations", "dropoff_window_s"): None,
    ("cloud", "locations", "collection_window_s"): None,
    ("cloud", "lockers", "collect_by"): None,
    ("cloud", "lockers", "overdue_at"): None,
    ("cloud", "locker_tokens", "expired_at"): None,
}

#: Tables ("table") or columns ("table.column") a migration removed on purpose, per tree.
DROPPED: dict[str, set[str]] = {"gateway": {"lockers.occupied"}, "cloud": set(),
                                 "tower": set()}

CASES = [
    pytest.param(tree, revision, engine, id=f"{tree.name}-{revision}-{engine}")
    for tree in TREES
    for revision in tree.revisions()
    for engine in ENGINES
]


def open_fixture(tree: Tree, revision: str, engine: str, request: pytest.FixtureRequest,
                 tmp_path: Path) -> Database:
    fixture = tree.fixture(revision, engine)
    if not fixture.exists():
        pytest.fail(f"no {engine} database of {tree.name} revision {revision} ({fixture}): "
                    f"run `{GENERATE}` and commit the files it writes", pytrace=False)
    if engine == "sqlite":
        path = tmp_path / "berth.db"
        shutil.copyfile(fixture, path)  # the kept file stays pristine
        return Database(f"sqlite:///{path}")
    url = request.getfixturevalue("postgres_cluster").create_database()
    load_postgres_dump(fixture, url)
    return Database(url)


def version(conn: Connection, tree: Tree) -> str:
    return str(conn.execute(text(f"SELECT version_num FROM {tree.version_table}")).scalar_one())


def snapshot(conn: Connection, tree: Tree) -> dict[str, list[Row]]:
    """Every row of every table of the tree, in primary-key order."""
    meta = MetaData()
    meta.reflect(conn)
    return {
        table.name: [dict(r._mapping) for r in conn.execute(
            select(table).order_by(*table.primary_key.columns))]
        for table in meta.sorted_tables if table.name != tree.version_table
    }


def expected_new(tree: Tree, table: str, column: str, old: Row) -> Any:
    key = (tree.name, table, column)
    if key not in BACKFILLS:
        pytest.fail(f"{table}.{column} was added to {tree.name} after this fixture's revision: "
                    f"declare what existing rows hold in BACKFILLS of {__name__}", pytrace=False)
    want = BACKFILLS[key]
    return want(old) if callable(want) else want


def assert_rows_survived(tree: Tree, before: dict[str, list[Row]],
                         after: dict[str, list[Row]]) -> None:
    dropped = DROPPED[tree.name]
    for table, old_rows in before.items():
        if table in dropped:
            continue
        assert table in after, f"table {table} vanished (declare it in DROPPED if on purpose)"
        new_rows = after[table]
        assert len(new_rows) == len(old_rows), f"{table}: {len(old_rows)} rows became " \
                                               f"{len(new_rows)}"
        for old, new in zip(old_rows, new_rows, strict=True):
            for column, value in old.items():
                if f"{table}.{column}" in dropped:
                    continue
                assert column in new, f"{table}.{column} vanished (declare it in DROPPED)"
                assert new[column] == value, f"{table}.{column}: {value!r} -> {new[column]!r}"
            for column in new.keys() - old.keys():
                want = expected_new(tree, table, column, old)
                assert new[column] == want, f"{table}.{column} of {old}: {new[column]!r}, " \
                                            f"expected {want!r}"


@pytest.mark.parametrize(("tree", "revision", "engine"), CASES)
def test_database_of_every_revision_upgrades_to_head(
    tree: Tree, revision: str, engine: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    db = open_fixture(tree, revision, engine, request, tmp_path)
    try:
        with db.read() as conn:
            assert version(conn, tree) == revision, "the fixture file holds another revision"
            before = snapshot(conn, tree)
        empty = [name for name, rows in before.items() if not rows]
        assert not empty, f"fixture tables without rows test nothing: {empty}"

        migrate.upgrade(db, tree.migrations, tree.version_table)

        with db.read() as conn:
            assert version(conn, tree) == tree.revisions()[-1]
            after = snapshot(conn, tree)
            drift = schema_drift(conn, tree.metadata(), tree.version_table)
        assert not drift, f"the upgraded schema differs from {tree.tables_module}: {drift}"
        assert_rows_survived(tree, before, after)
    finally:
        db.dispose()


@pytest.mark.parametrize("tree", TREES, ids=[t.name for t in TREES])
def test_every_revision_has_both_fixtures(tree: Tree) -> None:
    """The reminder in one line: which revisions still need their databases generated."""
    missing = [tree.fixture(rev, engine).name for rev in tree.revisions() for engine in ENGINES
               if not tree.fixture(rev, engine).exists()]
    assert not missing, f"{tree.name} lacks schema fixtures {missing}: run `{GENERATE}` " \
                        "and commit what it writes"
