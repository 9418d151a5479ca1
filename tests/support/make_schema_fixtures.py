"""Build the schema fixtures: for each revision of each migration tree, a small real database.

    .venv/bin/python -m tests.support.make_schema_fixtures          # only the missing ones
    .venv/bin/python -m tests.support.make_schema_fixtures --force tower:t0005   # rebuild one

For every revision without a fixture, an empty database (a SQLite file, and a PostgreSQL database
on a throwaway cluster) is migrated to exactly that revision with the services' own
``berth.storage.migrate.upgrade`` and filled through plain SQL with the rows in ``SEED``: only
the tables and columns that exist at that revision. The SQLite file is kept as it is, the
PostgreSQL database as a ``pg_dump`` plain SQL file. Fixtures of released revisions are history:
never rebuild them (that would test today's migration against itself), only add the new one.

A new NOT NULL column needs a value here before its revision's fixture can be built: add it to
the rows of its table in ``SEED`` (keep the columns of older revisions: old fixtures need them).
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData

from berth.storage import Database, migrate
from tests.conftest import PostgresCluster, _pg_bin
from tests.support.schema_fixtures import TREES, Tree

T0 = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
T1 = datetime(2026, 11, 2, 14, 5, 7, 250000, tzinfo=UTC)
UNIX0 = 1_793_525_400  # whole seconds, as the tower stores time

Rows = dict[str, list[dict[str, Any]]]

#: Representative rows per tree and table: a held locker, a released one, one out of service.
SEED: dict[str, Rows] = {
    "gateway": {
        "locker_types": [
            {"id": 1, "slug": "small", "name": "Small", "width_in": 12.0, "height_in": 8.5,
             "depth_in": 18.0, "created_at": T0},
            {"id": 2, "slug": "large", "name": "Large", "width_in": 24.0, "height_in": 20.0,
             "depth_in": 18.0, "created_at": T0},
        ],
        "bank_types": [
            {"id": 1, "key": "b-2x1", "friendly_name": "Two lockers", "description": "test bank",
             "is_debug": False, "created_at": T0},
        ],
        "bank_type_associations": [
            {"bank_type_id": 1, "bank_locker_number": 1, "locker_type_id": 1},
            {"bank_type_id": 1, "bank_locker_number": 2, "locker_type_id": 2},
        ],
        "controllers": [
            {"id": "ctl-1", "protocol": "kerong", "url": "tcp://10.0.0.5:4001", "address": 0,
             "channels": 24, "online": True, "updated_at": T1},
        ],
        "banks": [{"id": 1, "name": "A", "bank_type_id": 1, "controller_id": "ctl-1"}],
        "lockers": [
            {"id": 1, "bank_id": 1, "bank_locker_number": 1, "locker_type_id": 1,
             "controller_id": "ctl-1", "channel": 1, "attributes": "ambient,low", "attr_mask": 3,
             "occupied": True, "held": True, "out_of_service": False,  # held: from 0002 on
             "service_reason_code": None, "service_reason": None, "operational": True,
             "fault_code": None, "fault_reason": None, "door_open": False, "updated_at": T1},
            {"id": 2, "bank_id": 1, "bank_locker_number": 2, "locker_type_id": 2,
             "controller_id": "ctl-1", "channel": 2, "attributes": "", "attr_mask": 0,
             "occupied": False, "held": False, "out_of_service": True,
             "service_reason_code": "CLEANING", "service_reason": "door sticks",
             "operational": False, "fault_code": "JAMMED", "fault_reason": "door did not open",
             "door_open": None, "updated_at": T1},
        ],
        "transactions": [
            {"id": 1, "transaction_id": "tx-released", "locker_id": 2, "created_at": T0,
             "released_at": T1, "request": '{"transactionId": "tx-released"}'},
            {"id": 2, "transaction_id": "tx-open", "locker_id": 1, "created_at": T1,
             "released_at": None, "request": '{"transactionId": "tx-open"}'},
        ],
        "log_entries": [
            {"id": 1, "timestamp": T1, "level": "INFO", "event": "transaction_created",
             "message": "locker 1 assigned", "locker_id": 1, "transaction_id": "tx-open",
             "details": '{"lockerType": "small"}'},
            {"id": 2, "timestamp": T1, "level": "WARNING", "event": "door_jammed",
             "message": "door did not open", "locker_id": 2, "transaction_id": None,
             "details": None},
        ],
        "heartbeats": [
            {"device_id": "kiosk-1", "device_type": "kiosk", "status": "ok", "version": "1.2",
             "details": '{"uptime": 12}', "first_seen": T0, "last_seen": T1, "count": 42},
        ],
        "fleet_requests": [
            {"request_id": "req-1", "operation": "lockers.open", "state": "done",
             "response": '{"id":"req-1","outcome":"done","status":200}', "received_at": T0,
             "answered_at": T1},
            {"request_id": "req-2", "operation": "transactions.create", "state": "running",
             "response": None, "received_at": T1, "answered_at": None},
        ],
    },
    "cloud": {
        "partners": [{"id": 1, "name": "demo", "created_at": T0},
                     {"id": 2, "name": "other", "created_at": T0}],
        "towers": [{"id": "TWR00000001", "name": "Main street", "public_key": bytes(range(32)),
                    "private_key_sealed": b"\x01sealed-private-key", "created_at": T0}],
        "clients": [
            {"client_id": "demo", "partner_id": 1, "secret_hash": "$argon2id$v=19$fixture",
             "scopes": "lockers tower_access", "created_at": T0},
            {"client_id": "operator", "partner_id": None, "secret_hash": "$argon2id$v=19$op",
             "scopes": "operator", "created_at": T0},
        ],
        "tower_partners": [{"tower_id": "TWR00000001", "partner_id": 1}],
        "lockers": [
            {"id": 1, "tower_id": "TWR00000001", "name": "A1", "type_id": 1, "is_low": True,
             "access_mode": "public", "width_mm": 300, "height_mm": 200, "depth_mm": 450,
             "state": 3, "holder_partner_id": 1, "deadline": T1, "generation": 4,
             "updated_at": T1},
            {"id": 2, "tower_id": "TWR00000001", "name": "A2", "type_id": 2, "is_low": False,
             "access_mode": "partner", "width_mm": None, "height_mm": None, "depth_mm": None,
             "state": 1, "holder_partner_id": None, "deadline": None, "generation": 0,
             "updated_at": T0},
        ],
        "reservations": [
            {"id": "res-active", "locker_id": 1, "partner_id": 1, "status": "active",
             "created_at": T0, "expires_at": T1},
            {"id": "res-expired", "locker_id": 2, "partner_id": 1, "status": "expired",
             "created_at": T0, "expires_at": T0},
        ],
        "locker_tokens": [
            {"id": "tok-dropoff", "locker_id": 1, "partner_id": 1, "kind": 1,
             "client_info": "courier 7", "generation": 4, "key_id": "k1", "not_before": T0,
             "expires_at": T1, "payload": "eyJwIjoxfQ", "payload_auth": "c2ln", "used_at": T1},
        ],
        "commands": [
            {"id": 1, "tower_id": "TWR00000001", "kind": "release_token", "locker_id": 1,
             "token_id": "tok-dropoff", "payload": "eyJjIjoxfQ", "payload_auth": "c2ln",
             "created_at": T0, "applied_at": T1},
            {"id": 2, "tower_id": "TWR00000001", "kind": "cloud_keys", "locker_id": None,
             "token_id": None, "payload": None, "payload_auth": None, "created_at": T1,
             "applied_at": None},
        ],
        "outbox": [  # cloud 0002: one event dispatched, one waiting
            {"id": 1, "partner_id": 1, "position": 1, "type": "locker.state_changed",
             "tower_id": "TWR00000001", "locker_id": 1, "occurred_at": T0,
             "data": '{"state": "Reserved"}', "claimed_by": None, "lease_until": None,
             "dispatched_at": T1},
            {"id": 2, "partner_id": 1, "position": 2, "type": "token.issued",
             "tower_id": "TWR00000001", "locker_id": 1, "occurred_at": T1,
             "data": '{"tokenId": "tok-dropoff"}', "claimed_by": "cloud-7",
             "lease_until": T1, "dispatched_at": None},
        ],
        "outbox_positions": [{"partner_id": 1, "last_position": 2}],
        "locations": [  # cloud 0003: one with hours, one open around the clock
            {"id": 1, "name": "Station", "latitude": 52.525, "longitude": 13.369,
             "street": "Europaplatz 1", "postal_code": "10557", "city": "Berlin",
             "country": "DE", "opening_hours": '{"monday": [{"open": "08:00", "close": "20:00"}]}',
             "timezone": "Europe/Berlin", "created_at": T0,
             "dropoff_window_s": 1800, "collection_window_s": 259200},  # windows: from 0005
            {"id": 2, "name": "Harbour", "latitude": -33.858, "longitude": 151.214,
             "street": "", "postal_code": "", "city": "Sydney", "country": "AU",
             "opening_hours": None, "timezone": "Australia/Sydney", "created_at": T1,
             "dropoff_window_s": None, "collection_window_s": None},
        ],
        "location_towers": [{"tower_id": "TWR00000001", "location_id": 1}],
        "webhook_endpoints": [  # cloud 0004: one endpoint mid-rotation, failing
            {"id": "wh_fixture", "partner_id": 1, "url": "https://hooks.example.com/berth",
             "event_types": '["LOCKER_OPERATION"]', "enabled": True,
             "secret_sealed": b"\x02sealed-secret", "previous_secret_sealed": b"\x03old",
             "previous_until": T1, "failing_since": T0, "disabled_reason": None,
             "created_at": T0},
        ],
        "webhook_deliveries": [
            {"id": 1, "endpoint_id": "wh_fixture", "message_id": "msg_1_1_wh_fixture",
             "type": "LOCKER_OPERATION", "body": '{"type": "LOCKER_OPERATION"}',
             "status": "pending", "attempts": 2, "next_attempt_at": T1, "lease_until": None,
             "last_status_code": 503, "last_latency_ms": 12, "last_response": "down",
             "created_at": T0, "delivered_at": None},
        ],
        "tower_liveness": [  # cloud 0005: one tower seen, counted offline since
            {"tower_id": "TWR00000001", "last_seen_at": T0, "offline_since": T1},
        ],
        "tower_events": [
            {"tower_id": "TWR00000001", "seq": 1, "type": "door_closed", "locker_id": 1,
             "token_id": "tok-dropoff", "timestamp": UNIX0, "body": '{"seq": 1}',
             "outcome": "recorded", "received_at": T1},
        ],
        "fleet_organisations": [{"id": 1, "name": "acme", "created_at": T0}],
        "fleet_api_keys": [
            {"id": 1, "organisation_id": 1, "prefix": "0a1b2c3d4e5f", "secret_hash": "ab" * 32,
             "created_at": T0, "revoked_at": None},
        ],
        "fleet_sites": [
            {"site_id": "depot-1", "organisation_id": 1, "location_id": 1, "online": True,
             "presence_at": T1, "created_at": T0},
        ],
        "fleet_requests": [
            {"id": "f" * 32, "organisation_id": 1, "site_id": "depot-1", "location_id": 1,
             "operation": "lockers.open", "payload": '{"id":"ff","op":"lockers.open"}',
             "idempotency_key": "k-1", "fingerprint": "cd" * 32, "state": "done",
             "response": '{"id":"ff","outcome":"done","status":200}', "created_at": T0,
             "expires_at": T1, "answered_at": T1},
        ],
        "fleet_rate_windows": [{"key_id": 1, "window": 29_892_090, "count": 7}],
        "fleet_site_towers": [  # cloud 0007: depot-1 serves the tower, for partner demo
            {"site_id": "depot-1", "tower_id": "TWR00000001", "partner_id": 1, "created_at": T0},
        ],
    },
    "tower": {
        "tower_lockers": [
            {"locker_id": 1, "gateway_locker_id": 101, "generation": 4, "occupied": True,
             "pending_kind": 1, "pending_token_id": "tok-dropoff", "pending_expires": UNIX0 + 60,
             "hold_id": "cloud-1"},
            {"locker_id": 2, "gateway_locker_id": 102, "generation": 0, "occupied": False,
             "pending_kind": None, "pending_token_id": None, "pending_expires": None,
             "hold_id": None},
        ],
        "tower_events": [
            {"seq": 1, "type": "door_opened", "locker_id": 1, "timestamp": UNIX0,
             "body": '{"seq": 1, "type": "door_opened"}'},
            {"seq": 2, "type": "cloud_keys_learned", "locker_id": None, "timestamp": UNIX0 + 5,
             "body": '{"seq": 2, "key_ids": ["k2"]}'},
        ],
        "tower_state": [{"name": "next_seq", "value": 3}, {"name": "pushed_seq", "value": 1}],
        "tower_commands": [{"command_id": 9, "applied_at": UNIX0 + 1}],
        "tower_cloud_keys": [{"key_id": "k2", "public_key": bytes(range(32, 64)),
                              "learned_at": UNIX0 + 5}],
        "tower_spent_tokens": [{"token_id": "tok-old", "locker_id": 2, "kind": 2,
                                "spent_at": UNIX0 - 10, "expires": UNIX0 + 3600}],
        "tower_keypad_codes": [{"token_id": "tok-pickup", "locker_id": 1, "generation": 4,
                                "not_before": UNIX0 - 60, "expires": UNIX0 + 3000, "digits": 6,
                                "salt": bytes(range(16)), "digest": bytes(range(32)),
                                "cost": "14,8,1"}],
    },
}


def build(tree: Tree, revision: str, url: str) -> None:
    """Migrate an empty database to ``revision`` and insert the rows that fit its schema."""
    db = Database(url)
    try:
        migrate.upgrade(db, tree.migrations, tree.version_table, revision=revision)
        meta = MetaData()
        with db.engine.connect() as conn:
            meta.reflect(conn)
        with db.write() as conn:
            for table in meta.sorted_tables:
                rows = SEED[tree.name].get(table.name, [])
                if table.name == tree.version_table:
                    continue
                if not rows:
                    raise SystemExit(f"{tree.name} revision {revision} has table {table.name} "
                                     "but SEED has no rows for it: add some")
                needed = {c.name for c in table.columns if not c.nullable
                          and c.server_default is None}
                for row in rows:
                    if needed - row.keys():
                        raise SystemExit(f"SEED rows of {tree.name} {table.name} lack NOT NULL "
                                         f"columns {sorted(needed - row.keys())}: add values")
                known = set(table.columns.keys())
                conn.execute(table.insert(), [{k: v for k, v in r.items() if k in known}
                                              for r in rows])
    finally:
        db.dispose()


def make_sqlite(tree: Tree, revision: str, out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fixture.sqlite"
        build(tree, revision, f"sqlite:///{path}")
        conn = sqlite3.connect(path)  # one self-contained file of a few KB
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("PRAGMA page_size=512")
        conn.execute("VACUUM")
        conn.close()
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, out)


def make_postgres(cluster: PostgresCluster, tree: Tree, revision: str, out: Path) -> None:
    url = cluster.create_database()
    build(tree, revision, url)
    pg_dump = _pg_bin("pg_dump")
    if pg_dump is None:
        raise SystemExit("pg_dump not found")
    dump = subprocess.run(
        [pg_dump, "--no-owner", "--no-privileges", "--column-inserts", "--dbname",
         url.replace("+psycopg", "")],
        check=True, capture_output=True, text=True, timeout=120,
    ).stdout
    out.parent.mkdir(parents=True, exist_ok=True)  # \restrict lines: a random key, psql only
    out.write_text("".join(line for line in dump.splitlines(keepends=True)
                           if not line.startswith("\\")))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--force", nargs="*", default=[], metavar="TREE:REVISION",
                        help="rebuild these even if present (only for a revision not yet released)")
    args = parser.parse_args(argv)
    cluster: PostgresCluster | None = None
    try:
        for tree in TREES:
            for revision in tree.revisions():
                forced = f"{tree.name}:{revision}" in args.force
                sqlite_out, pg_out = tree.fixture(revision, "sqlite"), tree.fixture(revision, "pg")
                if forced or not sqlite_out.exists():
                    make_sqlite(tree, revision, sqlite_out)
                    print(f"wrote {sqlite_out}")
                if forced or not pg_out.exists():
                    cluster = cluster or PostgresCluster()
                    make_postgres(cluster, tree, revision, pg_out)
                    print(f"wrote {pg_out}")
    finally:
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()
