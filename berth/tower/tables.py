"""The tower's own tables, migrated beside the gateway's (own Alembic version table).

Times are whole Unix seconds, as in the signed events and tokens.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Integer, LargeBinary, MetaData, String, Table, Text

metadata = MetaData()

#: One row per cloud locker of this tower: its token generation and what the tower knows of it.
tower_lockers = Table(
    "tower_lockers",
    metadata,
    Column("locker_id", Integer, primary_key=True),  # the cloud's locker id (what tokens name)
    Column("gateway_locker_id", Integer, nullable=False, unique=True),
    Column("generation", Integer, nullable=False, default=0),
    Column("occupied", Boolean, nullable=False, default=False),
    # A token opened the door and we wait for it to close to report the use.
    Column("pending_kind", Integer, nullable=True),
    Column("pending_token_id", String(32), nullable=True),
    Column("pending_expires", Integer, nullable=True),  # so its spent record can be pruned
    # The gateway transaction that keeps local assignment off a locker holding a cloud parcel.
    Column("hold_id", String(128), nullable=True),
)

#: The signed, append-only event log; ``seq`` is gap-free because one counter row hands it out.
tower_events = Table(
    "tower_events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("type", String(40), nullable=False),
    Column("locker_id", Integer, nullable=True),
    Column("timestamp", Integer, nullable=False),
    Column("body", Text, nullable=False),  # the signed event as JSON
)

#: Counters and cursors: ``next_seq``, ``pushed_seq`` (last event the cloud acknowledged).
tower_state = Table(
    "tower_state",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("value", Integer, nullable=False),
)

#: Cloud commands applied here, so a command relayed twice acts once.
tower_commands = Table(
    "tower_commands",
    metadata,
    Column("command_id", Integer, primary_key=True, autoincrement=False),
    Column("applied_at", Integer, nullable=False),
)

#: Cloud public keys learned after provisioning (announced by the cloud when it rotates keys).
tower_cloud_keys = Table(
    "tower_cloud_keys",
    metadata,
    Column("key_id", String(40), primary_key=True),
    Column("public_key", LargeBinary, nullable=False),  # raw Ed25519, 32 bytes
    Column("learned_at", Integer, nullable=False),
)

#: Tokens whose door opened and closed again: spent, offline, until they expire anyway.
tower_spent_tokens = Table(
    "tower_spent_tokens",
    metadata,
    Column("token_id", String(32), primary_key=True),
    Column("locker_id", Integer, nullable=False),
    Column("kind", Integer, nullable=False),
    Column("spent_at", Integer, nullable=False),
    Column("expires", Integer, nullable=False, index=True),
)

#: Keypad codes of pick-up tokens, as salted digests the cloud signed (never the code itself);
#: deleted once used, expired, or killed by a newer generation of their locker.
tower_keypad_codes = Table(
    "tower_keypad_codes",
    metadata,
    Column("token_id", String(32), primary_key=True),  # the pick-up token the code stands for
    Column("locker_id", Integer, nullable=False),
    Column("generation", Integer, nullable=False),
    Column("not_before", Integer, nullable=False),
    Column("expires", Integer, nullable=False, index=True),
    Column("digits", Integer, nullable=False),
    Column("salt", LargeBinary, nullable=False),
    Column("digest", LargeBinary, nullable=False),
    Column("cost", String(20), nullable=False),  # scrypt "log2n,r,p"
)
