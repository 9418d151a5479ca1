"""Everything one gateway instance needs, in one object (the app factory's only argument)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from berth.clock import Clock, utcnow
from berth.gateway.auth import resolve_api_key
from berth.gateway.site import Site, load_site
from berth.hardware.driver import LockController
from berth.hardware.opening import OpenPolicy
from berth.settings import Settings
from berth.tower.identity import TowerIdentity


@dataclass
class GatewayConfig:
    db_url: str
    site: Site
    api_key: str
    policy: OpenPolicy = field(default_factory=OpenPolicy)
    open_all_gap: float = 0.25
    door_poll_interval: float = 0.5
    clock: Clock = utcnow
    controllers: dict[str, LockController] | None = None  # pre-built (tests); else from site
    mdns: bool = False
    host: str = "127.0.0.1"
    port: int = 8080
    max_batch: int = 128
    tower: TowerIdentity | None = None  # provisioned as a cloud tower (berth.tower)
    tower_sync_interval: float = 2.0
    # failures allowed per address and window (rate strings of the `limits` package)
    key_failures_per_address: str = "20/minute"
    admin_login_failures_per_address: str = "10/minute"
    tower_open_refusals_per_address: str = "30/minute"

    @classmethod
    def from_settings(cls, settings: Settings, *, db_url: str | None = None,
                      site_path: Path | None = None, host: str | None = None,
                      port: int | None = None, mdns: bool | None = None
                      ) -> tuple[GatewayConfig, bool]:
        """The config for ``berth gateway serve``; also says whether the key was generated."""
        site = load_site(site_path or settings.site_file)  # refuse a bad site before any I/O
        api_key, generated = resolve_api_key(settings.gateway_api_key, settings.data_dir)
        config = cls(
            db_url=db_url or settings.gateway_db_url(),
            site=site,
            api_key=api_key,
            policy=OpenPolicy(attempt_timeout=settings.open_attempt_timeout,
                              attempts=settings.open_attempts,
                              retry_gap=settings.open_retry_gap),
            open_all_gap=settings.open_all_gap,
            door_poll_interval=settings.door_poll_interval,
            tower_sync_interval=settings.tower_sync_interval,
            key_failures_per_address=settings.gateway_key_failures_per_address,
            admin_login_failures_per_address=settings.gateway_admin_login_failures_per_address,
            tower_open_refusals_per_address=settings.tower_open_refusals_per_address,
            mdns=settings.mdns if mdns is None else mdns,
            host=host or settings.gateway_host,
            port=port or settings.gateway_port,
        )
        return config, generated
