"""Everything one gateway instance needs, in one object (the app factory's only argument).

Built from ``Settings`` (the only source of defaults) and frozen: a variant is a new config
(``from_settings(settings, port=...)`` or ``dataclasses.replace``), never an edited one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from berth.domain.keypad import KeypadPolicy
from berth.fleet.client import LinkConfig
from berth.gateway.auth import resolve_api_key
from berth.gateway.site import Site, load_site
from berth.hardware.driver import LockController
from berth.hardware.opening import OpenPolicy
from berth.kit.clock import Clock, utcnow
from berth.kit.settings import Settings
from berth.tower.identity import TowerIdentity
from berth.tower.service import keypad_policy
from berth.tower.sync import SyncConfig


@dataclass(frozen=True)
class GatewayConfig:
    db_url: str
    site: Site
    api_key: str
    policy: OpenPolicy
    open_all_gap: float
    door_poll_interval: float
    mdns: bool
    host: str
    port: int
    tower_sync: SyncConfig
    tower_keypad: KeypadPolicy  # how many wrong keypad codes, then how long it locks
    # failures allowed per address and window (rate strings of the `limits` package)
    key_failures_per_address: str
    admin_login_failures_per_address: str
    tower_open_refusals_per_address: str
    clock: Clock = utcnow
    controllers: dict[str, LockController] | None = None  # pre-built (tests); else from site
    max_batch: int = 128
    tower: TowerIdentity | None = None  # provisioned as a cloud tower (berth.tower)
    fleet: LinkConfig | None = None  # the outbound MQTT link to the fleet API's broker
    fleet_site_id: str | None = None  # this gateway's site id on that broker
    technician_key: str | None = None  # logs in to /admin as a technician (the API key: owner)
    heartbeat_stale_after: float = 300.0  # the console's stale alarm (settings.py has the default)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> GatewayConfig:
        """The config ``settings`` describe, with ``overrides`` (config fields) on top.

        Without a ``site`` it loads the settings' site file (a bad one is refused before any
        other I/O); without an ``api_key`` it resolves the key (maybe generating its file).
        """
        gw = settings.gateway
        site = overrides.pop("site", None) or load_site(gw.site_file)
        api_key = overrides.pop("api_key", None) or resolve_api_key(gw.api_key,
                                                                    settings.data_dir)[0]
        values: dict[str, Any] = dict(
            db_url=settings.gateway_db_url(),
            site=site,
            api_key=api_key,
            policy=OpenPolicy.from_settings(settings),
            open_all_gap=settings.hardware.open_all_gap,
            door_poll_interval=settings.hardware.door_poll_interval,
            mdns=gw.mdns,
            host=gw.host,
            port=gw.port,
            tower_sync=SyncConfig.from_settings(settings),
            tower_keypad=keypad_policy(settings),
            key_failures_per_address=gw.key_failures_per_address,
            admin_login_failures_per_address=gw.admin_login_failures_per_address,
            technician_key=gw.technician_key,
            heartbeat_stale_after=gw.heartbeat_stale_after,
            tower_open_refusals_per_address=settings.tower.open_refusals_per_address,
        )
        if "fleet" not in overrides:
            values["fleet"] = LinkConfig.from_settings(settings, settings.fleet.credentials_file)
            values["fleet_site_id"] = settings.fleet.site_id
            if values["fleet"] is not None and not settings.fleet.site_id:
                raise ValueError("BERTH_FLEET_BROKER_URL is set but BERTH_FLEET_SITE_ID is not")
        values.update(overrides)
        return cls(**values)
