"""How to build a cloud: the one object the app factory, the CLI and tests fill in.

Built from ``Settings`` (the only source of defaults) and frozen: a variant is a new config
(``from_settings(settings, sweep_interval=0)`` or ``dataclasses.replace``), never an edited one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from berth.cloud.events.dispatch import Consumer, JsonLinesConsumer
from berth.cloud.fleet.service import FleetPolicy
from berth.cloud.webhooks.policy import WebhookPolicy
from berth.fleet.client import LinkConfig
from berth.kit.clock import Clock, utcnow
from berth.kit.settings import Settings


@dataclass(frozen=True)
class CloudConfig:
    """``data_dir`` holds the signing keys (``cloud-keys/``), the JWT secret and the vault key."""

    db_url: str
    data_dir: Path
    jwt_secret: str | None
    access_token_ttl: int
    sweep_interval: float  # seconds between background expiry sweeps; 0 disables
    tower_offline_after: float  # seconds without a sync until a tower is offline; 0 disables
    login_failures_per_client: str  # rate strings of the `limits` package
    login_failures_per_address: str
    hash_concurrency: int | None  # argon2 checks at once; None: the number of cores
    hash_queue: int
    hash_wait: float
    secret_cache_ttl: float  # seconds a verified secret skips argon2; 0: never
    command_poll_interval: float  # seconds between checks for new commands (long-polls)
    outbox_dispatch_interval: float  # seconds between idle outbox polls; 0 disables
    outbox_lease: float  # seconds a dispatcher's claim holds before others take it
    outbox_consumers: Sequence[Consumer]
    webhooks: WebhookPolicy
    keypad_code_digits: int  # digits of a pick-up token's keypad code (6..8)
    fleet: FleetPolicy
    fleet_link: LinkConfig | None = None  # the broker; None: /fleet/v1 answers 503
    clock: Clock = utcnow
    migrate: bool = True

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> CloudConfig:
        """The config ``settings`` describe, with ``overrides`` (config fields) on top."""
        st, fl = settings.cloud, settings.fleet
        values: dict[str, Any] = dict(
            db_url=settings.cloud_db_url(),
            data_dir=Path(settings.data_dir),
            jwt_secret=st.jwt_secret,
            access_token_ttl=st.access_token_ttl,
            keypad_code_digits=st.keypad_code_digits,
            sweep_interval=st.sweep_interval,
            tower_offline_after=st.tower_offline_after,
            login_failures_per_client=st.login_failures_per_client,
            login_failures_per_address=st.login_failures_per_address,
            hash_concurrency=st.hash_concurrency,
            hash_queue=st.hash_queue,
            hash_wait=st.hash_wait,
            secret_cache_ttl=st.secret_cache_ttl,
            command_poll_interval=st.command_poll_interval,
            outbox_dispatch_interval=st.outbox_dispatch_interval,
            outbox_lease=st.outbox_lease,
            outbox_consumers=(JsonLinesConsumer(st.outbox_jsonl),) if st.outbox_jsonl else (),
            webhooks=WebhookPolicy(
                allow_private=st.webhooks_allow_private,
                delivery_interval=st.webhooks_delivery_interval,
                retry_base=st.webhooks_retry_base, retry_max=st.webhooks_retry_max,
                disable_after=st.webhooks_disable_after,
                rotation_overlap=st.webhooks_rotation_overlap),
            fleet=FleetPolicy(
                read_wait=fl.read_wait, write_wait=fl.write_wait, hardware_wait=fl.hardware_wait,
                max_wait=fl.max_wait, per_minute=fl.requests_per_minute,
                request_ttl=fl.request_ttl, retry_offline=fl.keepalive),
        )
        if "fleet_link" not in overrides:
            values["fleet_link"] = LinkConfig.from_settings(settings,
                                                            fl.cloud_credentials_file)
        return cls(**(values | overrides))
