"""What every cloud service shares: the database, the clock, the keys and the event bus.

:meth:`CloudContext.write` is the cloud's one kind of write transaction: outbox events emitted in
it commit with it (``events/outbox.py``), and in-process events queued on it with
:func:`publish_after_commit` reach the bus only after it committed, so a subscriber never hears
of a change that rolled back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Connection

from berth.cloud.auth.credentials import SecretHasher, VerifiedSecrets
from berth.cloud.events import outbox
from berth.cloud.keys import KeyRing, Vault
from berth.events.bus import EventBus
from berth.events.types import Event
from berth.kit.clock import Clock
from berth.kit.settings import CloudSettings
from berth.storage import Database

_AFTER_COMMIT = "berth_publish_after_commit"


@dataclass
class CloudContext:
    db: Database
    clock: Clock
    keyring: KeyRing
    vault: Vault
    jwt_key: bytes
    verified: VerifiedSecrets  # recently verified client secrets (as keyed hashes)
    access_token_ttl: int = 300
    keypad_code_digits: int = CloudSettings.model_fields["keypad_code_digits"].default
    tower_offline_after: float = 0.0  # seconds without a sync until a tower is offline; 0: off
    hasher: SecretHasher = field(default_factory=SecretHasher)
    bus: EventBus = field(default_factory=EventBus)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction with its outbox; queued bus events go out once it committed."""
        queued: list[Event] = []
        with outbox.transaction(self.db) as conn:
            conn.info[_AFTER_COMMIT] = queued
            try:
                yield conn
            finally:
                conn.info.pop(_AFTER_COMMIT, None)
        for event in queued:
            self.bus.publish(event)


def publish_after_commit(conn: Connection, event: Event) -> None:
    """Publish ``event`` on the bus once this :meth:`CloudContext.write` commits; refuses outside
    one, so a change can never be announced before (or without) being stored."""
    queued = conn.info.get(_AFTER_COMMIT)
    if queued is None:
        raise RuntimeError("publish_after_commit outside CloudContext.write")
    queued.append(event)
