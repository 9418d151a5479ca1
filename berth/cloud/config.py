"""How to build a cloud: the one object the app factory, the CLI and tests fill in."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from berth.clock import Clock, utcnow
from berth.cloud.events.dispatch import Consumer, JsonLinesConsumer
from berth.settings import Settings, get_settings


@dataclass
class CloudConfig:
    """``data_dir`` holds the signing keys (``cloud-keys/``), the JWT secret and the vault key."""

    db_url: str
    data_dir: Path
    clock: Clock = field(default=utcnow)
    jwt_secret: str | None = None
    access_token_ttl: int = 300
    sweep_interval: float = 5.0  # seconds between background expiry sweeps; 0 disables
    migrate: bool = True
    login_failures_per_client: str = "10/minute"  # rate strings of the `limits` package
    login_failures_per_address: str = "30/minute"
    hash_concurrency: int | None = None  # argon2 checks at once; None: the number of cores
    hash_queue: int = 8
    hash_wait: float = 10.0
    outbox_dispatch_interval: float = 1.0  # seconds between idle outbox polls; 0 disables
    outbox_lease: float = 30.0  # seconds a dispatcher's claim holds before others take it
    outbox_consumers: list[Consumer] = field(default_factory=list)

    @classmethod
    def from_settings(
        cls, settings: Settings | None = None, db_url: str | None = None
    ) -> CloudConfig:
        st = settings or get_settings()
        return cls(
            db_url=db_url or st.cloud_db_url(),
            data_dir=Path(st.data_dir),
            jwt_secret=st.cloud_jwt_secret,
            access_token_ttl=st.access_token_ttl,
            sweep_interval=st.cloud_sweep_interval,
            login_failures_per_client=st.cloud_login_failures_per_client,
            login_failures_per_address=st.cloud_login_failures_per_address,
            hash_concurrency=st.cloud_hash_concurrency,
            hash_queue=st.cloud_hash_queue,
            hash_wait=st.cloud_hash_wait,
            outbox_dispatch_interval=st.cloud_outbox_dispatch_interval,
            outbox_lease=st.cloud_outbox_lease,
            outbox_consumers=(
                [JsonLinesConsumer(st.cloud_outbox_jsonl)] if st.cloud_outbox_jsonl else []
            ),
        )
