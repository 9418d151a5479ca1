"""The gateway's tables (SQLAlchemy Core). Migrations in ``migrations/`` create exactly these.

Static site data (types, banks, lockers' placement) is synced from the site file at start;
dynamic flags (service state, hardware health, door, held) live only here, because several
gateway processes may share one database and must all see them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

metadata = MetaData()


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def to_utc(value: datetime | None) -> datetime | None:
    """Filters may come with any offset; SQLite compares stored UTC text, so convert first."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# The claim query's WHERE clause, shared with the partial index so both engines can use it.
FREE_LOCKER = "held = false AND out_of_service = false AND operational = true"
OPEN_TRANSACTION = "released_at IS NULL"

locker_types = Table(
    "locker_types", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("slug", String(64), nullable=False, unique=True),
    Column("name", String(128), nullable=False),
    Column("width_in", Float, nullable=False),
    Column("height_in", Float, nullable=False),
    Column("depth_in", Float, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

bank_types = Table(
    "bank_types", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("key", String(64), nullable=False, unique=True),
    Column("friendly_name", String(128), nullable=False),
    Column("description", Text, nullable=True),
    Column("is_debug", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

bank_type_associations = Table(
    "bank_type_associations", metadata,
    Column("bank_type_id", Integer, ForeignKey("bank_types.id"), primary_key=True),
    Column("bank_locker_number", Integer, primary_key=True),
    Column("locker_type_id", Integer, ForeignKey("locker_types.id"), nullable=False),
)

controllers = Table(
    "controllers", metadata,
    Column("id", String(64), primary_key=True),
    Column("protocol", String(32), nullable=False),
    Column("url", String(256), nullable=True),
    Column("address", Integer, nullable=False),
    Column("channels", Integer, nullable=False),
    Column("online", Boolean, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

banks = Table(
    "banks", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(64), nullable=False),
    Column("bank_type_id", Integer, ForeignKey("bank_types.id"), nullable=False),
    Column("controller_id", String(64), ForeignKey("controllers.id"), nullable=False),
)

lockers = Table(
    "lockers", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("bank_id", Integer, ForeignKey("banks.id"), nullable=False),
    Column("bank_locker_number", Integer, nullable=False),
    Column("locker_type_id", Integer, ForeignKey("locker_types.id"), nullable=False),
    Column("controller_id", String(64), ForeignKey("controllers.id"), nullable=False),
    Column("channel", Integer, nullable=False),
    Column("attributes", String(256), nullable=False),  # comma-separated names, for display
    Column("attr_mask", Integer, nullable=False),  # bit per site attribute, for matching
    Column("held", Boolean, nullable=False),  # an open transaction holds it
    Column("out_of_service", Boolean, nullable=False),
    Column("service_reason_code", String(64), nullable=True),
    Column("service_reason", String(500), nullable=True),
    Column("operational", Boolean, nullable=False),
    Column("fault_code", String(64), nullable=True),
    Column("fault_reason", String(500), nullable=True),
    Column("door_open", Boolean, nullable=True),  # NULL: unknown (controller unreachable)
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_lockers_free", "locker_type_id", "id",
          sqlite_where=text(FREE_LOCKER), postgresql_where=text(FREE_LOCKER)),
)

transactions = Table(
    "transactions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("transaction_id", String(128), nullable=False, unique=True),
    Column("locker_id", Integer, ForeignKey("lockers.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("released_at", DateTime(timezone=True), nullable=True),
    Column("request", Text, nullable=False),  # the create body as JSON, for audit
    # The database itself forbids a locker held by two open transactions.
    Index("uq_transactions_open_locker", "locker_id", unique=True,
          sqlite_where=text(OPEN_TRANSACTION), postgresql_where=text(OPEN_TRANSACTION)),
)

log_entries = Table(
    "log_entries", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("timestamp", DateTime(timezone=True), nullable=False, index=True),
    Column("level", String(16), nullable=False),
    Column("event", String(64), nullable=False),
    Column("message", Text, nullable=False),
    Column("locker_id", Integer, nullable=True, index=True),
    Column("transaction_id", String(128), nullable=True, index=True),
    Column("details", Text, nullable=True),  # JSON
)

heartbeats = Table(
    "heartbeats", metadata,
    Column("device_id", String(128), primary_key=True),
    Column("device_type", String(64), nullable=False),
    Column("status", String(32), nullable=False),
    Column("version", String(64), nullable=True),
    Column("details", Text, nullable=True),  # JSON
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Column("count", Integer, nullable=False),
)

# Requests that came over the fleet link (berth/gateway/fleet/): each id is executed once; a
# repeat (QoS 1 may deliver twice, the cloud re-sends after a reconnect) gets the stored answer.
fleet_requests = Table(
    "fleet_requests", metadata,
    Column("request_id", String(64), primary_key=True),
    Column("operation", String(64), nullable=False),
    Column("state", String(16), nullable=False),  # running | done | interrupted
    Column("response", Text, nullable=True),  # the encoded answer, once there is one
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("answered_at", DateTime(timezone=True), nullable=True),
)
