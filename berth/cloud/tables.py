"""The cloud's tables (SQLAlchemy Core), one metadata for Alembic and the store.

Race guards live in the schema, not only in code: one active reservation per locker (a partial
unique index) and one event per (tower, seq) (the primary key).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData()


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both engines (SQLite keeps no zone, so we store naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


partners = Table(
    "partners",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
)

clients = Table(
    "clients",
    metadata,
    Column("client_id", String(64), primary_key=True),
    Column("partner_id", Integer, ForeignKey("partners.id"), nullable=True),
    Column("secret_hash", String(200), nullable=False),
    Column("scopes", String(200), nullable=False),  # space-separated, as in OAuth
    Column("created_at", UtcDateTime, nullable=False),
)

towers = Table(
    "towers",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("public_key", LargeBinary, nullable=False),  # raw Ed25519, 32 bytes
    Column("private_key_sealed", LargeBinary, nullable=False),  # AES-GCM under the vault key
    Column("created_at", UtcDateTime, nullable=False),
)

# Where towers stand: a location holds towers, a tower stands in at most one location (its
# primary key in ``location_towers``). Search prefilters on the (latitude, longitude) index.
locations = Table(
    "locations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("latitude", Float, nullable=False),
    Column("longitude", Float, nullable=False),
    Column("street", String(200), nullable=False),
    Column("postal_code", String(20), nullable=False),
    Column("city", String(100), nullable=False),
    Column("country", String(2), nullable=False),
    Column("opening_hours", Text, nullable=True),  # JSON per weekday; NULL: always open
    Column("timezone", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    # Dwell time (0005): seconds a courier may take to drop off, a recipient to collect; NULL: none.
    Column("dropoff_window_s", Integer, nullable=True),
    Column("collection_window_s", Integer, nullable=True),
    Index("ix_locations_lat_lon", "latitude", "longitude"),
)

location_towers = Table(
    "location_towers",
    metadata,
    Column("tower_id", String(16), ForeignKey("towers.id"), primary_key=True),
    Column("location_id", Integer, ForeignKey("locations.id"), nullable=False),
    Index("ix_location_towers_location", "location_id"),
)

tower_partners = Table(
    "tower_partners",
    metadata,
    Column("tower_id", String(16), ForeignKey("towers.id"), primary_key=True),
    Column("partner_id", Integer, ForeignKey("partners.id"), primary_key=True),
    Index("ix_tower_partners_partner", "partner_id"),
)

lockers = Table(
    "lockers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tower_id", String(16), ForeignKey("towers.id"), nullable=False),
    Column("name", String(50), nullable=False),
    Column("type_id", Integer, nullable=False),
    Column("is_low", Boolean, nullable=False, default=False),
    Column("access_mode", String(20), nullable=False, default="public"),
    Column("width_mm", Integer, nullable=True),
    Column("height_mm", Integer, nullable=True),
    Column("depth_mm", Integer, nullable=True),
    Column("max_weight_g", Integer, nullable=True),  # load limit, where known (0003)
    Column("state", Integer, nullable=False),
    Column("holder_partner_id", Integer, ForeignKey("partners.id"), nullable=True),
    # When the current state runs out (reservation or last drop-off token), for lazy expiry.
    Column("deadline", UtcDateTime, nullable=True),
    Column("generation", Integer, nullable=False, default=0),
    Column("updated_at", UtcDateTime, nullable=False),
    # An occupied locker's collection deadline (its location's window, 0005) and when the
    # sweeper reported it passed (parcel.not_collected, once per parcel).
    Column("collect_by", UtcDateTime, nullable=True),
    Column("overdue_at", UtcDateTime, nullable=True),
    Index("ix_lockers_tower", "tower_id", "id"),
    Index("ix_lockers_holder", "holder_partner_id"),
    Index("ix_lockers_deadline", "deadline"),
    # the overdue sweep's range: parcels with a deadline not yet reported
    Index("ix_lockers_collect_by", "collect_by", sqlite_where=text("overdue_at IS NULL"),
          postgresql_where=text("overdue_at IS NULL")),
)

reservations = Table(
    "reservations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("locker_id", Integer, ForeignKey("lockers.id"), nullable=False),
    Column("partner_id", Integer, ForeignKey("partners.id"), nullable=False),
    Column("status", String(20), nullable=False),  # active, cancelled, expired, used
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Index(
        "ux_reservations_one_active",
        "locker_id",
        unique=True,
        sqlite_where=text("status = 'active'"),
        postgresql_where=text("status = 'active'"),
    ),
)

locker_tokens = Table(
    "locker_tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("locker_id", Integer, ForeignKey("lockers.id"), nullable=False),
    Column("partner_id", Integer, ForeignKey("partners.id"), nullable=False),
    Column("kind", Integer, nullable=False),
    Column("client_info", Text, nullable=False, default=""),
    Column("generation", Integer, nullable=False),
    Column("key_id", String(32), nullable=False),
    Column("not_before", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("payload", Text, nullable=False),
    Column("payload_auth", Text, nullable=False),
    Column("used_at", UtcDateTime, nullable=True),
    Column("expired_at", UtcDateTime, nullable=True),  # reported expired unused (0005)
    Index("ix_locker_tokens_locker", "locker_id"),
)

commands = Table(
    "commands",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tower_id", String(16), ForeignKey("towers.id"), nullable=False),
    Column("kind", String(30), nullable=False),
    Column("locker_id", Integer, ForeignKey("lockers.id"), nullable=True),
    Column("token_id", String(32), nullable=True),
    Column("payload", Text, nullable=True),
    Column("payload_auth", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("applied_at", UtcDateTime, nullable=True),
    Index("ix_commands_tower", "tower_id", "id"),
)

# When the cloud last saw each tower sync, and since when it counts it offline (0005): kept in
# the database so an offline tower is reported once, across restarts.
tower_liveness = Table(
    "tower_liveness",
    metadata,
    Column("tower_id", String(16), ForeignKey("towers.id"), primary_key=True),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("offline_since", UtcDateTime, nullable=True),
    Index("ix_tower_liveness_seen", "last_seen_at", sqlite_where=text("offline_since IS NULL"),
          postgresql_where=text("offline_since IS NULL")),  # the offline sweep: online ones
)

events = Table(
    "tower_events",
    metadata,
    Column("tower_id", String(16), ForeignKey("towers.id"), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("type", String(40), nullable=False),
    Column("locker_id", Integer, nullable=True),
    Column("token_id", String(32), nullable=True),
    Column("timestamp", BigInteger, nullable=False),
    Column("body", Text, nullable=False),  # the signed event as JSON, kept for audit
    Column("outcome", String(80), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
)

# The transactional outbox: each event is written in the transaction of the change it reports,
# with a gap-free position per partner (allocated from ``outbox_positions`` under its row lock).
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("partner_id", Integer, ForeignKey("partners.id"), nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("type", String(40), nullable=False),
    Column("tower_id", String(16), nullable=False),
    Column("locker_id", Integer, nullable=True),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("data", Text, nullable=False),  # JSON; never a token's secret (payload_auth)
    Column("claimed_by", String(64), nullable=True),  # the dispatcher holding its lease
    Column("lease_until", UtcDateTime, nullable=True),
    Column("dispatched_at", UtcDateTime, nullable=True),
    Index("ux_outbox_partner_position", "partner_id", "position", unique=True),
    Index("ix_outbox_undispatched", "dispatched_at", "id"),
)

outbox_positions = Table(
    "outbox_positions",
    metadata,
    Column("partner_id", Integer, ForeignKey("partners.id"), primary_key=True),
    Column("last_position", BigInteger, nullable=False),
)

# Webhooks (cloud/webhooks): a partner's endpoints, their secrets sealed under the vault key, and
# one durable delivery per (endpoint, outbox event), retried until it succeeds.
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("partner_id", Integer, ForeignKey("partners.id"), nullable=False),
    Column("url", Text, nullable=False),
    Column("event_types", Text, nullable=False),  # JSON list; empty: every type
    Column("enabled", Boolean, nullable=False),
    Column("secret_sealed", LargeBinary, nullable=False),  # AES-GCM under the vault key
    Column("previous_secret_sealed", LargeBinary, nullable=True),  # signs too until ...
    Column("previous_until", UtcDateTime, nullable=True),
    Column("failing_since", UtcDateTime, nullable=True),
    Column("disabled_reason", String(40), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_webhook_endpoints_partner", "partner_id"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("endpoint_id", String(32), ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
           nullable=False),
    Column("message_id", String(64), nullable=False),  # the webhook-id header
    Column("type", String(40), nullable=False),
    Column("body", Text, nullable=False),  # the JSON sent, fixed at creation
    Column("status", String(16), nullable=False),  # pending, succeeded
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=True),
    Column("lease_until", UtcDateTime, nullable=True),  # a worker is sending it until then
    Column("last_status_code", Integer, nullable=True),
    Column("last_latency_ms", Integer, nullable=True),
    Column("last_response", Text, nullable=True),  # at most 500 characters
    Column("created_at", UtcDateTime, nullable=False),
    Column("delivered_at", UtcDateTime, nullable=True),
    Index("ux_webhook_deliveries_message", "endpoint_id", "message_id", unique=True),
    Index("ix_webhook_deliveries_due", "status", "endpoint_id", "id"),
)

# --- the fleet API (berth/cloud/fleet, docs/fleet.md) ---------------------------------------

fleet_organisations = Table(
    "fleet_organisations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
)

fleet_api_keys = Table(
    "fleet_api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("organisation_id", Integer, ForeignKey("fleet_organisations.id"), nullable=False),
    Column("prefix", String(16), nullable=False, unique=True),  # the key's public part
    Column("secret_hash", String(64), nullable=False),  # SHA-256 hex of the random secret
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
)

# A location bound to one gateway site; the site's presence as the broker last told it.
fleet_sites = Table(
    "fleet_sites",
    metadata,
    Column("site_id", String(63), primary_key=True),
    Column("organisation_id", Integer, ForeignKey("fleet_organisations.id"), nullable=False),
    Column("location_id", Integer, ForeignKey("locations.id"), nullable=False, unique=True),
    Column("online", Boolean, nullable=False),
    Column("presence_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_fleet_sites_organisation", "organisation_id"),
)

fleet_requests = Table(
    "fleet_requests",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("organisation_id", Integer, ForeignKey("fleet_organisations.id"), nullable=False),
    Column("site_id", String(63), nullable=False),
    Column("location_id", Integer, nullable=False),
    Column("operation", String(64), nullable=False),
    Column("payload", Text, nullable=False),  # the encoded request, re-sent as it is
    Column("idempotency_key", String(255), nullable=True),
    Column("fingerprint", String(64), nullable=True),  # SHA-256 of what the key stands for
    Column("state", String(16), nullable=False),  # pending | done | failed
    Column("response", Text, nullable=True),  # the site's encoded answer
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("answered_at", UtcDateTime, nullable=True),
    Index("ux_fleet_requests_idempotency", "organisation_id", "idempotency_key", unique=True),
    Index("ix_fleet_requests_pending", "site_id", "state"),
)

# Requests per API key and minute window, counted here so every fleet API process shares them.
fleet_rate_windows = Table(
    "fleet_rate_windows",
    metadata,
    Column("key_id", Integer, ForeignKey("fleet_api_keys.id"), primary_key=True),
    Column("window", BigInteger, primary_key=True),  # unix minute
    Column("count", Integer, nullable=False),
)

# The tower a site's gateway serves: its cloud link calls over the broker count for this tower
# only, and are ingested under this partner's access to it (docs/fleet.md, "The tower's link").
fleet_site_towers = Table(
    "fleet_site_towers",
    metadata,
    Column("site_id", String(63), ForeignKey("fleet_sites.site_id"), primary_key=True),
    Column("tower_id", String(16), ForeignKey("towers.id"), nullable=False, unique=True),
    Column("partner_id", Integer, ForeignKey("partners.id"), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)
